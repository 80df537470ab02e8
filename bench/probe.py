"""Runs a bot file the way `python bot.py ...` does, with timing probes the benchmark reads.

  python bench/probe.py bot.py -t twilio --host 127.0.0.1 --port 7860

The bot's source is not changed. Before it runs, this wraps pipecat 1.14 at three points and appends
one JSON line per event (with `time.monotonic()`, which is system-wide on Linux) to $BENCH_EVENTS:
- `bot_entered`: the runner calls `bot(runner_args)` (`pipecat.runner.run._get_bot_module`);
- `pipeline_started`: a `PipelineWorker`'s `on_pipeline_started` event (StartFrame reached the end);
- `vad_stopped` and `turn_analysis`: the VAD reports the caller stopped (with its stop_secs), and
  each smart-turn inference (start, end, verdict).
"""

import functools
import json
import os
import runpy
import sys
import time
from pathlib import Path

# Line-buffered and open for the whole process: each event is on disk when the benchmark reads it.
EVENTS = open(os.environ["BENCH_EVENTS"], "a", buffering=1)


def record(event: str, **details) -> None:
    EVENTS.write(json.dumps({"event": event, "at": time.monotonic(), **details}) + "\n")


def probe_bot_entry() -> None:
    import pipecat.runner.run as runner

    find_bot_module = runner._get_bot_module

    class TimedBotModule:
        """The bot's module, whose `bot` records when a call enters it."""

        def __init__(self, module) -> None:
            self._module = module

        def __getattr__(self, name):
            return getattr(self._module, name)

        async def bot(self, runner_args):
            record("bot_entered")
            return await self._module.bot(runner_args)

    runner._get_bot_module = lambda: TimedBotModule(find_bot_module())


def probe_pipeline_start() -> None:
    from pipecat.pipeline.worker import PipelineWorker

    original_init = PipelineWorker.__init__

    @functools.wraps(original_init)
    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)

        async def started(_worker, _frame):
            record("pipeline_started")

        self.add_event_handler("on_pipeline_started", started)

    PipelineWorker.__init__ = init


def probe_turn_detection() -> None:
    from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn
    from pipecat.turns.user_stop.turn_analyzer_user_turn_stop_strategy import (
        TurnAnalyzerUserTurnStopStrategy,
    )

    vad_stopped = TurnAnalyzerUserTurnStopStrategy._handle_vad_user_stopped_speaking

    async def handle_vad_stopped(self, frame):
        record("vad_stopped", stop_secs=frame.stop_secs)
        return await vad_stopped(self, frame)

    TurnAnalyzerUserTurnStopStrategy._handle_vad_user_stopped_speaking = handle_vad_stopped

    analyze = BaseSmartTurn.analyze_end_of_turn

    async def timed_analyze(self):
        started = time.monotonic()
        state, metrics = await analyze(self)
        record("turn_analysis", started=started, state=state.name, silence_limit=self._params.stop_secs)
        return state, metrics

    BaseSmartTurn.analyze_end_of_turn = timed_analyze


def main() -> None:
    bot_file = Path(sys.argv[1]).resolve()
    probe_bot_entry()
    probe_pipeline_start()
    probe_turn_detection()
    # Exactly what `python bot.py ARGS` sees: its folder first on sys.path, its name in argv[0].
    sys.path[0] = str(bot_file.parent)
    sys.argv = [str(bot_file), *sys.argv[2:]]
    runpy.run_path(str(bot_file), run_name="__main__")


if __name__ == "__main__":
    main()
