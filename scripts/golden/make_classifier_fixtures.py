#!/usr/bin/env python3
"""Golden fixtures for autojudge-classifier from scikit-learn: StandardScaler statistics,
LogisticRegression (L2, newton-cholesky to the exact optimum) coefficients/intercepts for several C and class
weights, and test-set ROC-AUC, on a synthetic dataset with mixed scales and a constant feature.

With --mined DIR it instead takes a slice of real mined features (records.jsonl +
features/*.safetensors of `autojudge mine`): the first --rows mismatches, the first --dims/2
dimensions of the draft and of the target hidden states (DD-DT), labels = important.

Usage: python3 scripts/golden/make_classifier_fixtures.py [--out tests/fixtures/classifier.json]
       python3 scripts/golden/make_classifier_fixtures.py --mined DIR --out tests/fixtures/classifier_mined.json
Install: pip install scikit-learn numpy safetensors
"""
import argparse, json
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def synthetic():
    rng = np.random.default_rng(42)
    n, d = 400, 12
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 30, size=d) + rng.uniform(-50, 50, size=d)
    x[:, 5] = 3.25  # constant feature
    x[:, 7] = x[:, 2] * 0.5 + rng.normal(scale=0.1, size=n)  # correlated
    w = rng.normal(size=d)
    z = ((x - x.mean(0)) / (x.std(0) + 1e-12)) @ w * 0.8 - 1.0
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-z))
    return x.astype(np.float32), y, 300


def mined(root, rows, dims):
    from safetensors.numpy import load_file
    xs, ys = [], []
    for line in open(f"{root}/records.jsonl"):
        r = json.loads(line)
        if r.get("status") != "mined" or not r["mismatches"]:
            continue
        f = load_file(f"{root}/features/p{r['index']:07d}.safetensors")
        d, t = f["draft_hidden"].astype(np.float32), f["target_hidden"].astype(np.float32)
        for i, m in enumerate(r["mismatches"]):
            xs.append(np.concatenate([d[i, : dims // 2], t[i, : dims // 2]]))
            ys.append(bool(m["important"]))
        if len(xs) >= rows:
            break
    x, y = np.stack(xs[:rows]), np.array(ys[:rows])
    return x, y, int(rows * 0.75)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/classifier.json")
    ap.add_argument("--mined")
    ap.add_argument("--rows", type=int, default=240)
    ap.add_argument("--dims", type=int, default=32)
    a = ap.parse_args()
    x, y, n_train = mined(a.mined, a.rows, a.dims) if a.mined else synthetic()
    n = len(y)
    tr, te = slice(0, n_train), slice(n_train, n)
    sc = StandardScaler().fit(x[tr])
    fits = []
    grid = [(1e-3, None), (0.1, None), (1.0, None), (100.0, None), (1.0, "balanced")]
    if a.mined:
        # Real features of a few hundred rows are nearly separable at C = 100, where even
        # newton-cholesky stops short of the optimum; keep the C values it solves exactly.
        grid = [(1e-3, None), (0.1, None), (1.0, None), (0.1, "balanced")]
    for c, cw in grid:
        # newton-cholesky converges to the exact optimum (lbfgs stops on scipy's fixed ftol on
        # the ill-conditioned correlated pair); the objective is the same.
        m = LogisticRegression(C=c, class_weight=cw, tol=1e-12, max_iter=1000, solver="newton-cholesky")
        m.fit(sc.transform(x[tr]), y[tr])
        p = m.predict_proba(sc.transform(x[te]))[:, 1]
        fits.append({"C": c, "class_weight": cw or "none", "coef": m.coef_[0].tolist(),
                     "intercept": float(m.intercept_[0]), "test_auc": float(roc_auc_score(y[te], p)),
                     "test_proba_head": p[:10].tolist()})
    out = {"sklearn": sklearn.__version__, "x": [[float(v) for v in r] for r in x], "y": [bool(v) for v in y], "train": n_train,
           "scaler_mean": sc.mean_.tolist(), "scaler_scale": sc.scale_.tolist(), "fits": fits}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print("wrote", a.out, "positives", int(y.sum()))


if __name__ == "__main__":
    main()
