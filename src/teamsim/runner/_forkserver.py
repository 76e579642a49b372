"""What a sweep's fork server imports before it forks workers (``set_forkserver_preload``).

The job function's module (:mod:`teamsim.runner._pool`), and with it the whole simulation
stack, then ``gc.freeze()``: every object the imports made (modules, classes, functions,
about 160,000 of them) moves to the collector's permanent generation. Measured on the
32-seed welcome sweep: the workers' collections no longer walk those objects (nor write to
their pages, which forked workers would otherwise copy), and the fork server's own exit no
longer spends about half a second collecting them. They live as long as the process in any
case, so nothing that could be freed is kept. Garbage the imports left is collected first.

Only the fork server imports this module; a process that imports teamsim as a library keeps
its collector as it was.
"""

from __future__ import annotations

import gc

import teamsim.runner._pool  # noqa: F401 - the job function and the simulation stack

gc.collect()
gc.freeze()
