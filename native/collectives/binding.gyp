# The optional collectives addon (myelin_gloo.node) over Gloo. A separate node-gyp project so the main
# addon (binding.gyp at the root) and its prebuilds never depend on Gloo: scripts/build-collectives.js
# builds this one only where the Gloo headers are installed (Debian: apt-get install libgloo-dev).
{
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
}
