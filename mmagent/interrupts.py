"""Stopping a training run on Ctrl-C or SIGTERM without checkpointing a half-made update.

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread is. Raised in the middle
of a gradient update (inside the optimizer's ``step``, say), it leaves some weights updated and
others not, or the optimizer's state half initialised, and a checkpoint saved then resumes into
an error or a silently different model. :class:`SafeInterrupt` handles SIGINT and SIGTERM
instead: outside an update (collecting a rollout, evaluating) it raises ``KeyboardInterrupt`` at
once, as before; during one (:meth:`SafeInterrupt.updating`) it notes the request and raises when
the update ends. A second signal during the same update stops at once, marked :attr:`unsafe`
so that the caller saves nothing.

SB3 runs mark their updates with :class:`UpdatePhaseCallback`: an on-policy algorithm updates
between the end of one rollout and the start of the next.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from stable_baselines3.common.callbacks import BaseCallback

HANDLED_SIGNALS = ("SIGINT", "SIGTERM")


class SafeInterrupt:
    """SIGINT and SIGTERM as ``KeyboardInterrupt`` at points where the model is whole.

    Use it as a context manager around training (it installs its handlers on entry and puts the
    previous ones back on exit; off the main thread it leaves signals alone), and wrap each model
    update in :meth:`updating`. A signal the process ignores (SIGINT in a job a shell started
    in the background) stays ignored.
    """

    def __init__(self) -> None:
        self.pending: str | None = None
        """The signal that arrived during the current update, to be raised when it ends."""
        self.unsafe = False
        """Whether the interrupt was raised inside an update: its model must not be saved."""
        self._in_update = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SafeInterrupt:
        for name in HANDLED_SIGNALS:
            number = getattr(signal, name, None)
            if number is None:
                continue
            if signal.getsignal(number) == signal.SIG_IGN:  # as `nohup` or `cmd &` starts it
                continue
            try:
                self._previous[number] = signal.signal(number, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                break
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self._in_update:
            raise KeyboardInterrupt(name)
        if self.pending is None:
            self.pending = name
            print(
                f"\n{name}: stopping when the model update under way ends (send it again to "
                "stop at once, without saving)",
                file=sys.stderr,
                flush=True,
            )
            return
        self.unsafe = True
        raise KeyboardInterrupt(name)

    def begin_update(self) -> None:
        """Signals from now on wait for :meth:`end_update`."""
        self._in_update = True

    def end_update(self) -> None:
        """End the update; raise ``KeyboardInterrupt`` if a signal arrived during it."""
        self._in_update = False
        if self.pending is not None:
            name, self.pending = self.pending, None
            raise KeyboardInterrupt(name)

    @contextmanager
    def updating(self) -> Iterator[None]:
        """A block that changes the model: a signal during it is raised when it ends."""
        self.begin_update()
        try:
            yield
        except BaseException:
            self._in_update = False
            raise
        self.end_update()


class UpdatePhaseCallback(BaseCallback):
    """Marks an on-policy algorithm's update (from the end of a rollout to the start of the
    next) on ``interrupt``, so that Ctrl-C or SIGTERM never lands inside it."""

    def __init__(self, interrupt: SafeInterrupt) -> None:
        super().__init__()
        self.interrupt = interrupt

    def _on_rollout_end(self) -> None:
        self.interrupt.begin_update()

    def _on_rollout_start(self) -> None:
        self.interrupt.end_update()

    def _on_training_end(self) -> None:  # after the last update
        self.interrupt.end_update()

    def _on_step(self) -> bool:
        return True
