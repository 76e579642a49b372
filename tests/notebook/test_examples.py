"""Every example notebook runs cleanly in a real Jupyter kernel (nbclient, ipykernel), from a
temporary working directory; any cell error fails the test."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_the_examples_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == ["01-quick-start.ipynb",
                                           "02-experiment-trust-a-rule.ipynb",
                                           "03-plug-in-a-drafter.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_without_an_error(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    # IPC transport: the kernel's sockets are files in the temporary folder (no TCP ports,
    # and no warning about them).
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(tmp_path / "kernel")
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}}, config=config)
    client.execute(cwd=str(tmp_path))
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook shows no plot"
