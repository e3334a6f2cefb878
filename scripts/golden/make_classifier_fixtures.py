#!/usr/bin/env python3
"""Golden fixtures for autojudge-classifier from scikit-learn: StandardScaler statistics,
LogisticRegression (L2, newton-cholesky to the exact optimum) coefficients/intercepts for several C and class
weights, and test-set ROC-AUC, on a synthetic dataset with mixed scales and a constant feature.

Usage: python3 scripts/golden/make_classifier_fixtures.py [--out tests/fixtures/classifier.json]
Install: pip install scikit-learn numpy
"""
import argparse, json
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/classifier.json")
    a = ap.parse_args()
    rng = np.random.default_rng(42)
    n, d = 400, 12
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 30, size=d) + rng.uniform(-50, 50, size=d)
    x[:, 5] = 3.25  # constant feature
    x[:, 7] = x[:, 2] * 0.5 + rng.normal(scale=0.1, size=n)  # correlated
    w = rng.normal(size=d)
    z = ((x - x.mean(0)) / (x.std(0) + 1e-12)) @ w * 0.8 - 1.0
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-z))
    x = x.astype(np.float32)
    tr, te = slice(0, 300), slice(300, n)
    sc = StandardScaler().fit(x[tr])
    fits = []
    for c, cw in [(1e-3, None), (0.1, None), (1.0, None), (100.0, None), (1.0, "balanced")]:
        # newton-cholesky converges to the exact optimum (lbfgs stops on scipy's fixed ftol on
        # the ill-conditioned correlated pair); the objective is the same.
        m = LogisticRegression(C=c, class_weight=cw, tol=1e-12, max_iter=1000, solver="newton-cholesky")
        m.fit(sc.transform(x[tr]), y[tr])
        p = m.predict_proba(sc.transform(x[te]))[:, 1]
        fits.append({"C": c, "class_weight": cw or "none", "coef": m.coef_[0].tolist(),
                     "intercept": float(m.intercept_[0]), "test_auc": float(roc_auc_score(y[te], p)),
                     "test_proba_head": p[:10].tolist()})
    out = {"sklearn": sklearn.__version__, "x": x.tolist(), "y": y.tolist(), "train": 300,
           "scaler_mean": sc.mean_.tolist(), "scaler_scale": sc.scale_.tolist(), "fits": fits}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print("wrote", a.out, "positives", int(y.sum()))


if __name__ == "__main__":
    main()
