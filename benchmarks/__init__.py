"""Benchmarks of the provider: trigger scale, DAG parse cost, worker slots, emulator throughput.

Run them all with ``python -m benchmarks`` (or ``benchmarks/run_all.sh``), or one part with
``python -m benchmarks.<part>``. Each part prints its own table and writes its figures as JSON
to ``benchmarks/results/``. ``BENCHMARKS.md`` records the latest figures.
"""
