"""CLIMB's engines: plain Python, one sub-package per pipeline stage, no Dagster.

core -> corpus -> quality -> semantic -> climblab -> search -> climbmix (a stage imports only `core` and
earlier stages; `demo` only `core`). The asset graph in `climb_assets/` calls the names each stage's
`__init__` lists. See docs/architecture.md.
"""
