"""`bdax sim list|run|sweep` and `bdax bench sim` from the command line's entry point."""
import json

import pytest

from gateway.cli import main


def test_list_shows_the_shipped_scenarios(capsys):
    assert main(["sim", "list"]) == 0
    out = capsys.readouterr().out
    assert "busan" in out and "rmsc04" in out and "BTC-KRW" in out


def test_run_writes_the_report_and_prints_its_path(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["sim", "run", "busan", "--duration", "90s", "--seed", "4", "--out", str(out_dir), "--quiet",
                 "--set", "agents.noise.count=50"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed == str(out_dir / "report.html") and (out_dir / "report.html").is_file()
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["seed"] == 4 and (out_dir / "journal.bin").stat().st_size > 0


@pytest.mark.parametrize("argv,message", [
    (["sim", "run", "busan", "--set", "agents.noise.count=-3"], "agents.noise.count: must be a positive integer, got -3"),
    (["sim", "run", "busan", "--duration", "soon"], "--duration: must be a positive duration"),
    (["sim", "run", "nowhere"], "no scenario 'nowhere'"),
    (["sim", "sweep", "busan", "--set", "agents.mm.levles=3"], "agents.mm.levles: unknown key; did you mean 'levels'?"),
])
def test_bad_input_is_a_clear_error(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_seeds_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["sim", "sweep", "busan", "--seeds", "0"])
    assert "--seeds" in capsys.readouterr().err


def test_sweep_aggregates_seeds(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sim", "sweep", "busan", "--seeds", "1,2", "--duration", "60s", "--jobs", "1", "--out", str(out),
                 "--set", "agents.noise.count=20"]) == 0
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["seeds"] == [1, 2] and (out / "busan-1" / "report.html").is_file()
    assert capsys.readouterr().out.strip().endswith("report.html")


def test_ray_backend_without_ray_says_how_to_fix(tmp_path, capsys):
    try:
        import ray  # noqa: F401
        pytest.skip("Ray is installed here")
    except ImportError:
        pass
    assert main(["sim", "sweep", "busan", "--seeds", "1", "--duration", "30s", "--ray", "--out", str(tmp_path)]) == 2
    assert "--ray needs Ray" in capsys.readouterr().err


def test_help_on_every_command(capsys):
    for argv in (["sim", "--help"], ["sim", "run", "--help"], ["sim", "sweep", "--help"], ["bench", "sim", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    assert "--quick" in capsys.readouterr().out
