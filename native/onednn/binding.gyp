{
  "targets": [
    {
      "target_name": "linea_onednn",
      "sources": ["src/addon.cc", "src/cnn_step.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      # -ffp-contract=off: no fusing a·b + c into an FMA, so elementwise kernels (the optimizer's
      # update above all) give the same floats as tfjs's JavaScript.
      "cflags_cc": ["-O3", "-std=c++17", "-fopenmp", "-march=native", "-ffp-contract=off"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldnnl", "-fopenmp"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
