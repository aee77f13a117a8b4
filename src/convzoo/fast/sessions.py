"""One static-shape runtime session per input shape in use, built on first use, LRU-bounded.

ONNX Runtime and OpenVINO plan memory and choose kernels once per compiled shape: a
session compiled for a dynamic batch (and spatial sizes) re-derives shapes on every call
and misses the optimizations that need them (measured on plain MobileNetV2, 2 threads:
the dynamic session ran behind the same runtime on a static export; ``docs/performance.md``).
So :class:`ShapeSessions` keeps the *dynamic* graph (the one ``Optimized.save`` writes
and that every shape is verified on) and compiles it once per input shape actually used,
with that shape fixed: ONNX Runtime through ``SessionOptions.add_free_dimension_override_by_name``
(each symbolic input dimension pinned to the size; shape inference then folds what it can),
OpenVINO through ``Model.reshape`` on a copy of the read model. At most ``size`` sessions
are kept (least recently used dropped first); a shape whose static build fails (a symbolic
name shared by two dimensions of different sizes, a runtime that cannot reshape) runs on
the one dynamic session instead.

A shape built again after it was dropped is the same graph compiled with the same shape
and options; ``on_rebuild`` (set by ``Optimized``) verifies it again before it serves any
call (a failure raises, and the session is not kept).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable

import numpy as np

__all__ = ["SESSIONS", "Run", "ShapeSessions", "input_dims", "overrides"]

#: Static sessions kept per runtime module (each holds its own copy of the weights).
SESSIONS = 4

Run = Callable[[np.ndarray], list[np.ndarray]]


def input_dims(onnx_bytes: bytes) -> list[int | str | None]:
    """Each dimension of the ONNX model's first input: its size, its symbolic name, or None
    (neither).

    >>> import onnx, onnx.helper as h
    >>> x = h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 3, None])
    >>> y = h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    >>> m = h.make_model(h.make_graph([h.make_node("Identity", ["x"], ["y"])], "g", [x], [y]))
    >>> input_dims(m.SerializeToString())
    ['batch', 3, None]
    """
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)
    out: list[int | str | None] = []
    for d in model.graph.input[0].type.tensor_type.shape.dim:
        kind = d.WhichOneof("value")
        if kind == "dim_value":
            out.append(int(d.dim_value))
        else:
            out.append(d.dim_param or None if kind == "dim_param" else None)
    return out


def overrides(dims: list[int | str | None], shape: tuple[int, ...]) -> dict[str, int] | None:
    """The symbolic name -> size pins that fix ``dims`` at ``shape``, or None where no
    pinning by name can (a dimension without a name, one name at two sizes, a rank or a
    fixed size that differs).

    >>> overrides(["batch", 3, "h", "h"], (4, 3, 8, 8))
    {'batch': 4, 'h': 8}
    >>> overrides(["batch", 3, "h", "h"], (4, 3, 8, 9)) is None
    True
    """
    if len(dims) != len(shape):
        return None
    pins: dict[str, int] = {}
    for d, s in zip(dims, shape):
        if d is None or (isinstance(d, int) and d != s):
            return None
        if isinstance(d, str):
            if pins.setdefault(d, s) != s:
                return None
    return pins


class ShapeSessions:
    """A run function (array in, arrays out) holding one static session per input shape.

    Args:
        build: ``shape`` -> a run function compiled for exactly that shape (``None``: the
            dynamic session, any shape the graph takes).
        size: sessions kept at most (least recently used dropped first).

    Attributes:
        builds: shape -> how many times a static session was built for it.
        on_rebuild: called with a shape whose session is built again after it was
            dropped (verification), before that session serves anyone else (calls from
            the verifying thread at that shape run it); when it raises, the session is not
            kept and the error reaches the caller.

    >>> made = []
    >>> s = ShapeSessions(lambda shape: made.append(shape) or (lambda a: [a + 1]), size=1)
    >>> [int(s(np.zeros(n))[0][0]) for n in (1, 2, 1)], made
    ([1, 1, 1], [(1,), (2,), (1,)])
    """

    def __init__(self, build: Callable[[tuple[int, ...] | None], Run],
                 size: int = SESSIONS) -> None:
        self._build = build
        self._runs: collections.OrderedDict[tuple[int, ...], Run] = collections.OrderedDict()
        self._lock = threading.Lock()  # the table
        self.size = size
        self._building = threading.RLock()  # one compile at a time
        self._dynamic: Run | None = None
        self._pending: dict[int, tuple[tuple[int, ...], Run]] = {}  # thread -> rebuilt
        self.builds: dict[tuple[int, ...], int] = {}
        self.on_rebuild: Callable[[tuple[int, ...]], None] | None = None

    def __call__(self, array: np.ndarray) -> list[np.ndarray]:
        shape = array.shape
        with self._lock:
            run = self._runs.get(shape)
            if run is not None:
                self._runs.move_to_end(shape)
        if run is None:
            run = self._get(shape)
        return run(array)

    @property
    def size(self) -> int:
        """Sessions kept at most (setting it drops the least recently used beyond it)."""
        return self._size

    @size.setter
    def size(self, size: int) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"`size` (={size!r}) must be an int, at least 1")
        with self._lock:
            self._size = size
            self._trim()

    def _trim(self) -> None:
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._runs)

    def _get(self, shape: tuple[int, ...]) -> Run:
        pending = self._pending.get(threading.get_ident())
        if pending is not None and pending[0] == shape:
            return pending[1]  # the verification of a rebuilt session, calling it
        with self._building:  # other threads wanting this shape wait for it here
            with self._lock:
                run = self._runs.get(shape)
            if run is not None:
                return run
            try:
                run = self._build(shape)
            except Exception:  # noqa: BLE001 - no static session for it: the dynamic one
                if self._dynamic is None:
                    self._dynamic = self._build(None)
                run = self._dynamic
            again = shape in self.builds
            self.builds[shape] = self.builds.get(shape, 0) + 1
            if again and self.on_rebuild is not None:  # verified before anyone else uses it
                self._pending[threading.get_ident()] = (shape, run)
                try:
                    self.on_rebuild(shape)
                finally:
                    del self._pending[threading.get_ident()]
            with self._lock:
                self._runs[shape] = run
                self._trim()
        return run
