"""Thread-level parallelism shared by the cross-validation
(:mod:`haicpred.modeling.cross_validation`, :mod:`haicpred.modeling.lobo`) and the nested search
(:mod:`haicpred.modeling.tuning`).

Threads, not processes: XGBoost, BLAS and most of NumPy release the GIL, the work items share
one feature matrix without copies, and nothing needs pickling. Results come back in the order
of the items and every item draws its randomness from its own seeds, so the outputs do not
depend on the thread count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

__all__ = ["map_in_order", "single_threaded_blas"]


def map_in_order(function, items: list, threads: int) -> list:
    """``[function(item) for item in items]`` on ``threads`` worker threads, in item order."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(function, items))


def single_threaded_blas():
    """A context in which BLAS uses one thread. The matrices here are small (thousands x ~100)
    and a multi-threaded OpenBLAS spends more time synchronising than computing (a
    10,000-patient logistic CV fit: 0.6 s with one BLAS thread, 5.2 s with two on a busy 2-core
    machine); the cores go to work items in parallel instead (:func:`map_in_order`)."""
    return threadpool_limits(limits=1, user_api="blas")
