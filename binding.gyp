# node-gyp build of the myelin addon. Kernel sources come from native/sources.json (shared with
# CMakeLists.txt): "portable" units build with the default flags, "avx2" units in their own static
# library with -mavx2 -mfma, "avx512" units in another with -mavx512f -mavx512vl -mavx512dq
# -mavx512bw -mfma (both called only after run-time CPU dispatch). The ISA flags apply on x86-64
# only, as in CMakeLists.txt; elsewhere (arm64) those units compile to nothing or to portable loops
# (scripts/cross-arm64.js checks the arm64 build).
{
  "target_defaults": {
    "cflags_cc": ["-std=gnu++17", "-O3", "-fPIC", "-fvisibility=hidden"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++20"],
    "defines": ["NAPI_VERSION=8"],
    "include_dirs": ["native/kernels", "native/runtime"]
  },
  "targets": [
    {
      "target_name": "myelin_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').avx2.join(' ')\")"],
      "conditions": [["target_arch=='x64'", {"cflags_cc": ["-mavx2", "-mfma"]}]]
    },
    {
      "target_name": "myelin_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').avx512.join(' ')\")"],
      "conditions": [
        ["target_arch=='x64'", {"cflags_cc": ["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mfma"]}]
      ]
    },
    {
      "target_name": "myelin",
      "sources": [
        "native/binding/addon.cc",
        "native/binding/plan.cc",
        "<!@(node -p \"require('./native/sources.json').portable.join(' ')\")"
      ],
      "dependencies": [
        "myelin_avx2",
        "myelin_avx512",
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "libraries": ["-lpthread"]
    }
  ]
}
