"""The same option means the same thing in every subcommand: --device defaults to auto, --threads
is the one shared definition (CPU threads for the network), --json - writes JSON to stdout."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from uva_cli.cli import COMMANDS, main, options

from conftest import make_fixation_dataset


def _command(name: str) -> click.Command:
    return main.get_command(click.Context(main), name)


def _option(command: click.Command, flag: str) -> click.Option | None:
    return next((p for p in command.params if isinstance(p, click.Option) and flag in p.opts), None)


def _shared_option(decorator, flag: str) -> click.Option:
    return _option(decorator(click.command("probe")(lambda **kw: None)), flag)


def _with(flag: str) -> list[str]:
    return [name for name in COMMANDS if _option(_command(name), flag) is not None]


def test_device_defaults_to_auto_in_every_command():
    from uva_cli.train.loop import TrainConfig

    with_device = _with("--device")
    assert {"saliency", "roi", "bench", "eval", "train", "distill"} <= set(with_device)
    for name in with_device:
        opt = _option(_command(name), "--device")
        assert list(opt.type.choices) == ["auto", "cpu", "cuda"], name
        # train and distill leave it unset so a --config file can set it; unset is TrainConfig's auto
        default = opt.default if isinstance(opt.default, str) else TrainConfig().device
        assert default == "auto", f"uva {name} --device defaults to {default!r}"


NETWORK_COMMANDS = ["saliency", "roi", "encode", "bench", "eval"]


@pytest.mark.parametrize("name", [*NETWORK_COMMANDS, "train", "distill"])
def test_threads_is_the_one_shared_option(name):
    shared = _shared_option(options.threads, "--threads")
    opt = _option(_command(name), "--threads")
    assert opt is not None, f"uva {name} has no --threads"
    assert (opt.help, opt.default, repr(opt.type)) == (shared.help, shared.default, repr(shared.type))


def test_every_command_with_threads_is_checked():
    assert set(_with("--threads")) == {*NETWORK_COMMANDS, "train", "distill"}


def test_threads_sets_the_network_threads(clip, tmp_path):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    try:
        result = CliRunner().invoke(main, ["saliency", str(clip), "--npz", str(tmp_path / "a.npz"), "--backend",
                                           "torch", "--threads", "3", "-q"])
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def test_json_dash_writes_json_to_stdout_in_every_command(clip, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    vroot, _ = make_fixation_dataset(tmp_path, videos=2, frames=4, images=1)
    args = {
        "bench": ["--no-video", "--batch-size", "1", "--backend", "torch"],
        "eval": ["--data", str(vroot), "--baseline", "centre", "--metrics", "nss", "-q"],
        "roi": [str(clip), "-q"],
    }
    assert set(_with("--json")) == set(args)  # a new command with --json gets a case here
    for name, extra in args.items():
        result = CliRunner().invoke(main, ["--debug", name, *extra, "--json", "-"], env={"UVA_CACHE_DIR": str(tmp_path / "c")})
        assert result.exit_code == 0, (name, result.output)
        assert isinstance(json.loads(result.stdout), dict), name  # stdout is the JSON and nothing else
        assert not (tmp_path / "-").exists(), name  # not a file named '-'
