"""End-to-end benchmark of CreateOrder against a bare two-hop gRPC echo chain and against lean
references of the same work (``benchmarks.lean``).

Run ``python -m benchmarks --help``. Everything under test runs in subprocesses: the two services,
the lean references, the echo chain, and the load generator, so no process's GIL is shared with
another's.
"""
