{
  "targets": [
    {
      "target_name": "dbos_hypercall",
      "sources": ["<!@(node -p \"require('@dbos/native-build').gypSources('.')\")"],
      "include_dirs": ["<!@(node -p \"require('@dbos/native-build').gypIncludes('.')\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_c": ["-std=gnu11"],
      "cflags": ["-O2", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "cflags_cc": ["-std=c++17", "-O2", "-g", "-fexceptions", "-fvisibility=hidden"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "libraries": ["-lpthread"]
    }
  ]
}
