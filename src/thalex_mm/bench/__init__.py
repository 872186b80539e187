"""The benchmark suite behind `thalex-mm bench`.

Each benchmark is a module here exposing ``run(quick: bool) -> dict[str, float | int | str]``
(metric name -> value); ``runner.BENCH_MODULES`` lists them and ``runner.BUDGETS`` holds the
known budgets.
"""
