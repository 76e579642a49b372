"""Make the README's figures: the plots of the welcome scenario (seed 7), as PNG.

    python docs/make_figures.py                 # writes docs/img/*.png
    python docs/make_figures.py --out DIR       # somewhere else

Every figure is made by :mod:`teamsim.notebook` from one run of the shipped scenario, so the
same teamsim and matplotlib make the same bytes. Needs the notebook extra
(``pip install 'teamsim[notebook]'``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "welcome-renovation-leads.yaml"
FIGURES = ("funnel", "swimlanes", "attention", "approval_latency", "utilisation", "daily")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img",
                        help="the folder to write the PNGs into (default: docs/img)")
    args = parser.parse_args(argv)

    import teamsim
    import teamsim.notebook as nb

    plots = {"funnel": nb.plot_funnel, "swimlanes": nb.plot_swimlanes,
             "attention": nb.plot_attention, "approval_latency": nb.plot_approval_latency,
             "utilisation": nb.plot_utilisation, "daily": nb.plot_daily}
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        result = teamsim.run(SCENARIO, seed=7, out=Path(work) / "run")
        try:
            for name in FIGURES:
                path = nb.save_figure(plots[name](result), args.out / f"welcome-{name}.png")
                print(path)
        finally:
            result.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
