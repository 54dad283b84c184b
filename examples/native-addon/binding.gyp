{
  "targets": [
    {
      "target_name": "interner",
      "sources": ["<!@(node -p \"require('@dbos/native-build').gypSources('.')\")"],
      "include_dirs": ["<!@(node -p \"require('@dbos/native-build').gypIncludes('.')\")"],
      "defines": ["<!@(node -p \"require('@dbos/native-build').gypFlags('defines')\")"],
      "cflags": ["<!@(node -p \"require('@dbos/native-build').gypFlags('cflags')\")"],
      "cflags_c": ["<!@(node -p \"require('@dbos/native-build').gypFlags('cflags_c')\")"],
      "cflags_cc": ["<!@(node -p \"require('@dbos/native-build').gypFlags('cflags_cc')\")"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "libraries": ["-lpthread"]
    }
  ]
}
