#!/usr/bin/env python3
"""PyTorch peer of bench/fashion-accuracy.ts: the same small PReLU CNN (PReLU alpha initialised to 0,
as linea's), data, normalisation and recipe (Adam lr 1e-3, batch 64). Prints a JSON list of rows."""
import argparse, gzip, json, os, time
import numpy as np
import torch
import torch.nn as nn


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    x = idx(os.path.join(a.dir, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255
    y = idx(os.path.join(a.dir, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    xt = idx(os.path.join(a.dir, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255
    yt = idx(os.path.join(a.dir, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    mean, std = x.mean(), x.std()
    x = torch.tensor((x - mean) / std).unsqueeze(1)
    xt = torch.tensor((xt - mean) / std).unsqueeze(1)
    y, yt = torch.tensor(y), torch.tensor(yt)

    def prelu(c):
        return nn.PReLU(c, init=0.0)

    m = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), prelu(16), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), prelu(32), nn.MaxPool2d(2),
        # linea flattens channels-last (h, w, c); the order does not matter for a dense layer.
        nn.Flatten(), nn.Linear(7 * 7 * 32, 10))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        m.train()
        for idx_b in torch.randperm(len(y)).split(64):
            opt.zero_grad()
            loss_fn(m(x[idx_b]), y[idx_b]).backward()
            opt.step()
            with torch.no_grad():
                for mod in m:
                    if isinstance(mod, nn.PReLU):
                        mod.weight.clamp_(0, 1)
        seconds = time.perf_counter() - t0
        m.eval()
        with torch.no_grad():
            acc = (m(xt).argmax(1) == yt).float().mean().item()
        rows.append({"framework": "torch", "backend": torch.__version__, "epoch": epoch + 1, "test_accuracy": acc, "seconds": seconds})
        print(f"torch epoch {epoch + 1}: test acc {acc:.4f}", file=__import__("sys").stderr)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
