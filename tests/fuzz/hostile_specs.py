r"""The hostile and oversized specs of issue 12, written as TOML files beside a copy of the
shipped diabetes data, to run with ``sdde-verify check SPEC.toml`` from that folder (relative
paths). Each must end within 90 s as a finished run or a named error with exit code 2.

Usage: ``python tests/fuzz/hostile_specs.py OUTDIR`` writes ``OUTDIR/<name>.toml`` and
``OUTDIR/diabetes.csv``; ``--run`` also runs each through the CLI and prints name, exit code,
wall time and the last line of stderr.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BASE_DATA = """
[data]
path = "diabetes.csv"
label = "target"
standardize = true
standardize_label = true
"""

SYNTH = """
[data]
kind = "linear"
n = {n}
d = {d}
seed = 1
"""


def _alg(**kw: object) -> str:
    base = {"eta": 0.02, "batch_size": 4, "delay": "iid", "l": 2, "K": 200, "paths": 50,
            "seed": 3}  # fmt: skip
    base.update(kw)
    lines = ["[algorithm]"]
    for k, v in base.items():
        lines.append(f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool) else
                     f"{k} = {str(v).lower()}")  # fmt: skip
    return "\n".join(lines) + "\n"


def _loss(expr: str, constants: str = "") -> str:
    out = f'[loss]\nexpression = "{expr}"\n'
    if constants:
        out += f"constants = {{ {constants} }}\n"
    return out


CLAIM_MU = """
[[claims]]
name = "mse bound with mu"
metric = "mean_sq_dist"
process = "sdde"
rhs = "R0**2*exp(-mu*t) + eta*sigma2/mu"
"""

CLAIM_HUGE = """
[[claims]]
name = "huge rhs"
metric = "mean_sq_dist"
process = "sdde"
rhs = "exp(exp(10**15))"
"""

LS = "(dot(a, x) - b)**2/2"

SPECS: dict[str, str] = {
    "sigmoid_exp": _loss("sigmoid(exp(1e10))*norm2(x)") + BASE_DATA + _alg(),
    "degree12": _loss("(dot(a, x) - b)**12/12") + BASE_DATA + _alg(),
    "exp3": _loss("exp(exp(exp(1000)))*norm2(x)") + BASE_DATA + _alg(),
    "sum_lam_over_a": _loss("sum(lam/a) + norm2(x)", "lam = 1.0")
    + SYNTH.format(n=50, d=2)
    + _alg(),
    "rhs_exp_exp": _loss(LS) + BASE_DATA + _alg() + CLAIM_HUGE,
    "d1000": _loss(LS) + SYNTH.format(n=200, d=1000) + _alg(),
    "batch_100000": _loss(LS) + BASE_DATA + _alg(batch_size=100000, replace=True),
    "eta_1e300": _loss(LS) + BASE_DATA + _alg(eta=1e300),
    "paths_1e7": _loss(LS) + BASE_DATA + _alg(paths=10**7),
    "welsch_mu": _loss("1 - exp(-(dot(a, x) - b)**2/(2*c**2))", "c = 0.5")
    + BASE_DATA
    + _alg()
    + CLAIM_MU,
}


def write(out: Path) -> list[Path]:
    """Write every spec and the data into ``out``; return the spec paths."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "verify" / "data" / "diabetes.csv", out / "diabetes.csv")
    paths = []
    for name, text in SPECS.items():
        p = out / f"{name}.toml"
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    return paths


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("hostile")
    paths = write(out)
    if "--run" in argv:
        for p in paths:
            t0 = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "verify", "check", p.name, "--out", "reports"],
                cwd=out, capture_output=True, text=True, timeout=600,
                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            )  # fmt: skip
            last = (proc.stderr.strip().splitlines() or [""])[-1][:150]
            tail = (proc.stdout.strip().splitlines() or [""])[-1][:100]
            print(f"{p.stem:16} rc={proc.returncode} {time.monotonic() - t0:6.1f}s  {last}  {tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
