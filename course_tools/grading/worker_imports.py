"""What the local cluster's workers import, once, in the forkserver they are forked from
(``orchestrate.start_forkserver`` preloads this module there, before any worker exists).

Imports make few reference cycles, so the collector waits until they are done (measured: these
imports took 2.7 to 3.6 s of CPU with it on, 2.0 to 2.2 s this way), and what they made is then
frozen: a worker's full collections walk only what the worker itself makes, not the objects every
worker shares with the forkserver (which a walk would also copy, page by page).
"""
import gc

gc.disable()
try:
    import distributed  # noqa: F401
    import nbgrader.api  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401  they sanitize every submission (1.5 s of CPU to import)
    import torch  # noqa: F401  the workers compare the tensors hidden tests record

    from . import executor, submission  # noqa: F401
finally:
    gc.collect()
    gc.freeze()
    gc.enable()
