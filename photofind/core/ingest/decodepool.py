"""Decoding in child processes, so that an image that crashes or hangs the decoder costs
that one file, never photofind.

Pillow, libjpeg, libpng, libwebp, libheif… are C code fed with whatever bytes lie in a
person's folders. `DecoderPool` runs `decode.decode_for_model` in small worker processes
(multiprocessing "spawn": a fresh interpreter that imports only this module, Pillow and
pillow-heif — never torch), one file per worker at a time, so the file a dead worker was
decoding is known exactly:

- the worker dies (a segfault, an abort, the OOM killer) → a fresh worker tries the file
  once more (the death may have had another cause); dying again, the file fails with
  "the image decoder crashed on this file (SIGSEGV)";
- no answer within `timeout_s` → the worker is killed and the file fails with
  "decoding took longer than 60 s";
- more memory than filecheck.DECODER_MEMORY above what the worker started with → the
  decode fails with MemoryError, and so does the file (workers run under RLIMIT_DATA).

Such failures are recorded like any other (retried only when the file changes). Callers
are the indexer's decode threads, one worker each: the worker reads the file (once) and
hashes it; the thread decides whether it needs decoding (not for a known photo's copy or
move); the worker decodes it and returns a small RGB image (reduced by a whole factor
towards the model's size), which the thread preprocesses. A file's bytes never travel
between processes: a worker reads, hashes and decodes a 3.5 MP JPEG in the time the
indexing process did (~7 ms here); piping the bytes to it instead cost ~1 ms more.

Workers start on first use (~0.1 s) and exit on their own after `idle_exit_s` without
work, when the pool is closed, or when photofind exits (they also notice their parent's
death: the pipe closes).

For tests only: with `PHOTOFIND_TEST_DECODER_FAULTS=1` in the environment, a worker
asked to decode a file whose name contains `__crash__` aborts, and one whose name contains
`__hang__` sleeps for ever. Nothing else reads that variable.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable

from PIL import Image

from photofind.core.errors import NotAnImage
from photofind.core.media.decode import (
    Decoded,
    content_hash,
    decode_for_model,
    read_file,
    unexpected,
)
from photofind.core.media.filecheck import limit_memory

DEFAULT_TIMEOUT_S = 60.0
FAULTS_ENV = "PHOTOFIND_TEST_DECODER_FAULTS"


class DecoderPoolClosed(Exception):
    """The pool was closed (indexing stopped) while this file was being decoded."""


def _serve(conn, idle_exit_s: float) -> None:
    """A worker process: answer requests until the pipe closes or it idles too long.

    ("file", path, min_side, ask): read the file — ("bad", reason) when it cannot be read
    — and with `ask`, answer ("hashed", (hash, size)) and wait for True (decode it) or
    False (skip it). ("bytes", name, min_side, False) followed by the bytes: decode those.
    A decode answers ("ok", metadata + (hash, size)) then the RGB pixels, or ("bad", reason)."""
    faults = os.environ.get(FAULTS_ENV) == "1"
    _quiet()
    limit_memory()  # a file that would need more fails alone (MemoryError), not the machine
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    while True:
        try:
            if idle_exit_s > 0 and not conn.poll(idle_exit_s):
                return
            kind, where, min_side, ask = conn.recv()
            digest = ""
            if kind == "bytes":
                data = conn.recv_bytes()
            else:
                try:
                    data = read_file(where)
                except NotAnImage as exc:
                    conn.send(("bad", str(exc)))
                    continue
                digest = content_hash(data)
                if ask:
                    conn.send(("hashed", (digest, len(data))))
                    if not conn.recv():
                        continue
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if faults:
            _injected_fault(os.path.basename(where))
        pixels = None
        try:
            decoded = decode_for_model(data, min_side)
            image = decoded.image
            answer = ("ok", (image.mode, image.size, decoded.width, decoded.height,
                             decoded.format, decoded.taken, digest, len(data),
                             time.process_time()))
            pixels = image.tobytes()
        except NotAnImage as exc:
            answer = ("bad", str(exc))
        except Exception as exc:  # a decoder bug fails this file, not the worker
            answer = ("bad", unexpected(exc))
        del data
        try:  # raw bytes, not pickled: no extra copy of the pixels
            conn.send(answer)
            if pixels is not None:
                conn.send_bytes(pixels)
        except (OSError, ValueError):
            return


def _quiet() -> None:
    """C decoders complain on stderr about damaged files (libtiff: "ZIPDecode: Decoding
    error…"); the worker's answers go through its pipe, so its output goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass


def _exit_with_parent(parent: int) -> None:
    """A worker stuck in a decoder still goes when photofind goes (even by `kill -9`)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _injected_fault(name: str) -> None:
    if "__crash__" in name:
        os.abort()
    if "__hang__" in name:
        while True:
            time.sleep(3600)


_START_LOCK = threading.Lock()


class _Worker:
    def __init__(self, ctx, idle_exit_s: float, generation: int) -> None:
        self.generation = generation
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, idle_exit_s),
                                   name="photofind-decoder", daemon=True)
        # "spawn" runs the parent's main script again in the child (as `__mp_main__`) unless
        # it is a package's __main__; the worker needs nothing from it, and a script without
        # an `if __name__ == "__main__"` guard would run again. Show it an empty one.
        with _START_LOCK:
            main = sys.modules.get("__main__")
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                self.process.start()
            finally:
                if main is not None:
                    sys.modules["__main__"] = main
        child.close()
        self.last_used = time.monotonic()
        self.cpu = 0.0  # the process's CPU seconds, as of its last answer

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(10)
        except (OSError, ValueError, AssertionError):
            pass
        self.conn.close()

    def stop_process(self) -> None:
        """End the process without touching the pipe (safe from any thread)."""
        try:
            self.process.kill()
        except (OSError, ValueError, AttributeError):
            pass

    def death(self) -> str:
        """Why the process ended, once it has: 'SIGSEGV', 'exit status 3'…"""
        self.process.join(10)
        code = self.process.exitcode
        if code is None:
            return "no answer"
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"


class _Crashed(Exception):
    pass


class _TimedOut(Exception):
    pass


class DecoderPool:
    """Worker processes for `decode_for_model`; `decode` may be called from many threads at
    once (each call takes a worker of its own, starting one if none is idle)."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, idle_exit_s: float = 0.0) -> None:
        self.timeout_s = timeout_s
        self.idle_exit_s = idle_exit_s
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._generation = 0  # close() starts a new one: older workers' callers stop
        self.crashes = 0  # worker deaths seen (for tests and logs)
        self._retired_cpu = 0.0

    def prestart(self, count: int) -> None:
        """Start up to `count` workers now, so that their start (~0.1 s each) overlaps other
        work, such as loading the model, instead of delaying the first photos."""
        with self._lock:
            missing = count - len(self._idle) - len(self._busy)
            generation = self._generation
        started = [_Worker(self._ctx, self.idle_exit_s, generation) for _ in range(missing)]
        for worker in started:
            self._give_back(worker)

    def decode_file(self, path: str, min_side: int, wanted: Callable[[str, int], bool],
                    ask: bool = True) -> tuple[str, int, Decoded | None]:
        """Read `path` once in a worker and hash it; `wanted(hash, size)` (called here)
        says whether to decode it. Returns (hash, size, decoded or None). Raises
        NotAnImage with a reason (unreadable, undecodable, a crash, a timeout) or
        DecoderPoolClosed when `close()` interrupted it. The file's bytes never travel
        between processes; only the small decoded image does.

        `ask=False` saves a round trip between the processes where the answer is almost
        surely yes: the worker decodes straight away
        and `wanted` is asked afterwards (a no drops the decoded image)."""
        def converse(worker: _Worker):
            self._send(worker, ("file", path, min_side, ask))
            if ask:
                kind, value = self._receive(worker)
                if kind != "hashed":
                    return kind, value
                go = wanted(*value)
                self._send(worker, go)
                if not go:
                    return "ok", (*value, None)
            kind, value = self._receive_decoded(worker)
            if kind != "ok":
                return kind, value
            decoded, digest, size = value
            if not ask and not wanted(digest, size):
                decoded = None
            return kind, (digest, size, decoded)
        return self._attempts(converse)

    def decode(self, data: bytes, min_side: int, name: str = "") -> Decoded:
        """Decode bytes in a worker (`name` only for the test hook); raises like
        `decode_file`."""
        def converse(worker: _Worker):
            self._send(worker, ("bytes", name, min_side, False))
            self._send(worker, data, raw=True)
            kind, value = self._receive_decoded(worker)
            return kind, value[0] if kind == "ok" else value
        return self._attempts(converse)

    def close(self) -> None:
        """Stop every worker, also those decoding now (their callers get DecoderPoolClosed).
        The pool can be used again afterwards."""
        with self._lock:
            self._generation += 1
            idle, busy = self._idle, list(self._busy)
            self._idle = []
            self._retired_cpu += sum(w.cpu for w in idle)
        for worker in idle:
            worker.kill()
        # A busy worker's pipe belongs to the thread talking to it: closing it from here
        # could pull the descriptor from under that thread's poll (and the number be
        # reused by the next pipe). End the process only; its thread sees the pipe close
        # and discards the worker itself.
        for worker in busy:
            worker.stop_process()

    def cpu_seconds(self) -> float:
        """CPU time the workers spent (as of their last answers), ended ones included: the
        indexer's CPU figures count decoding, which happens in these processes."""
        with self._lock:
            return self._retired_cpu + sum(w.cpu for w in (*self._idle, *self._busy))

    # --- inside ----------------------------------------------------------------------

    def _take(self) -> _Worker:
        with self._lock:
            generation = self._generation
            now = time.monotonic()
            while self._idle:
                worker = self._idle.pop()
                fresh = self.idle_exit_s <= 0 or now - worker.last_used < self.idle_exit_s - 1
                if fresh and worker.process.is_alive():
                    self._busy.add(worker)
                    return worker
                self._retired_cpu += worker.cpu
                worker.kill()
        worker = _Worker(self._ctx, self.idle_exit_s, generation)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        worker.last_used = time.monotonic()
        with self._lock:
            self._busy.discard(worker)
            current = worker.generation == self._generation
            if current:
                self._idle.append(worker)
            else:
                self._retired_cpu += worker.cpu
        if not current:  # closed meanwhile
            worker.kill()

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            self._retired_cpu += worker.cpu
        worker.kill()

    def _attempts(self, converse):
        """`converse(worker)` with a worker of its own; a worker that dies is replaced and
        the conversation tried once more, then it is the file's fault."""
        for attempt in (1, 2):
            worker = self._take()
            try:
                kind, value = converse(worker)
            except _Crashed:
                closed = worker.generation != self._generation
                why = "" if closed else worker.death()
                self._discard(worker)
                if closed:
                    raise DecoderPoolClosed() from None
                self.crashes += 1
                if attempt == 2:
                    raise NotAnImage(f"the image decoder crashed on this file ({why})") from None
                continue
            except _TimedOut:
                self._discard(worker)
                if worker.generation != self._generation:
                    raise DecoderPoolClosed() from None
                raise NotAnImage(
                    f"decoding took longer than {self.timeout_s:g} s; photofind gave up on "
                    "this file") from None
            except BaseException:  # the conversation broke off half-way: start afresh
                self._discard(worker)
                raise
            self._give_back(worker)
            if kind == "ok":
                return value
            raise NotAnImage(value)
        raise AssertionError("unreachable")

    def _send(self, worker: _Worker, message, raw: bool = False) -> None:
        try:
            if raw:
                worker.conn.send_bytes(message)
            else:
                worker.conn.send(message)
        except (OSError, ValueError):
            raise _Crashed() from None

    def _receive(self, worker: _Worker):
        try:
            if worker.conn.poll(self.timeout_s):
                return worker.conn.recv()
        except (EOFError, OSError, ValueError):
            raise _Crashed() from None
        raise _TimedOut()

    def _receive_decoded(self, worker: _Worker):
        kind, value = self._receive(worker)
        if kind != "ok":
            return kind, value
        mode, size, width, height, fmt, taken, digest, length, worker.cpu = value
        try:
            pixels = worker.conn.recv_bytes()
        except (EOFError, OSError, ValueError):
            raise _Crashed() from None
        image = Image.frombytes(mode, size, pixels)
        return kind, (Decoded(image, width, height, fmt, taken), digest, length)
