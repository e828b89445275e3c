{
  "targets": [
    {
      "target_name": "linea_onednn",
      "sources": ["src/addon.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-O3", "-std=c++17", "-fopenmp", "-march=native"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
