# The optional collectives addons: myelin_gloo.node over Gloo, myelin_mpi.node over MPI. A separate node-gyp
# project so the main addon (binding.gyp at the root) and its prebuilds never depend on either:
# scripts/build-collectives.js builds each one only where its library is installed (Debian: apt-get install
# libgloo-dev; apt-get install libopenmpi-dev openmpi-bin), and says which through with_gloo / with_mpi.
{
  "variables": {
    "with_gloo%": "<!(node ../../scripts/build-collectives.js --detect gloo)",
    "with_mpi%": "<!(node ../../scripts/build-collectives.js --detect mpi)"
  },
  "conditions": [
    ["with_gloo==1", {
      "targets": [
        {
          "target_name": "myelin_gloo",
          "sources": ["gloo.cc"],
          "cflags_cc": ["-std=gnu++17", "-O2", "-fPIC", "-fvisibility=hidden"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++20"],
          "defines": ["NAPI_VERSION=8"],
          "include_dirs": ["/usr/include/hiredis"],
          "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
          "libraries": ["-lgloo", "-lpthread"]
        }
      ]
    }],
    ["with_mpi==1", {
      "targets": [
        {
          "target_name": "myelin_mpi",
          "sources": ["mpi.cc"],
          # The flags of the MPI wrapper compiler (mpicc --showme:compile / --showme:link, Open MPI).
          "cflags_cc": ["-std=gnu++17", "-O2", "-fPIC", "-fvisibility=hidden", "<!@(node ../../scripts/build-collectives.js --flags mpi compile)"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++20"],
          "defines": ["NAPI_VERSION=8", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"],
          "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
          "libraries": ["<!@(node ../../scripts/build-collectives.js --flags mpi link)", "-lpthread"]
        }
      ]
    }]
  ]
}
