"""The package as a user installs it: built as a wheel, installed (not editable) into a fresh virtual
environment beside the verified stack, and run through the README's commands from a folder outside
the repository; the editable install (scripts/setup.sh) from the same folder too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import synthetic_lines, tiny_model_flags

REPO = Path(__file__).resolve().parents[1]
STACK = Path(sys.prefix)  # the environment running the tests: the verified stack, and the editable install


def run(argv, cwd, env, check=True, typed=None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300, input=typed)
    if check:
        assert result.returncode == 0, f"{argv}\n{result.stdout[-1500:]}\n{result.stderr[-3000:]}"
    return result


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr  # fairseq logs to stdout, warnings go to stderr


def stack_without_this_project(root: Path) -> Path:
    """The verified stack's packages, as links, without this project's editable install."""
    site = Path(next(p for p in sys.path if p.startswith(str(STACK)) and p.endswith("site-packages")))
    folder = root / "verified-stack"
    folder.mkdir()
    for entry in site.iterdir():
        if not entry.name.startswith(("fairseq_hybrid_vae", "__editable__")) and entry.suffix != ".pth":
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.fixture(scope="module")
def wheel_environment(tmp_path_factory) -> Path:
    """bin/ of a fresh venv holding the wheel; it sees the verified stack through a .pth file, so
    pip must find every declared dependency satisfied there (--no-index: nothing is downloaded)."""
    root = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", root / "dist",
         REPO], root, None)
    run([sys._base_executable, "-m", "venv", "--without-pip", root / "venv"], root, None)
    venv_python = root / "venv" / "bin" / "python"
    site = run([venv_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, None)
    Path(site.stdout.strip(), "verified-stack.pth").write_text(f"{stack_without_this_project(root)}\n")
    wheel = next((root / "dist").glob("fairseq_hybrid_vae-*.whl"))
    run([sys.executable, "-m", "pip", "--python", venv_python, "install", "-q", "--no-index",
         "--disable-pip-version-check", wheel], root, None)
    return root / "venv" / "bin"


@pytest.fixture(params=["wheel", "editable"])
def installed(request, tmp_path):
    """(bin folder, environment, an empty work folder outside the repository)."""
    bin_dir = request.getfixturevalue("wheel_environment") if request.param == "wheel" else STACK / "bin"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", OMP_NUM_THREADS="1")
    work = tmp_path / "my-project"
    work.mkdir()
    return bin_dir, env, work


def test_the_readme_commands_run_from_any_folder(installed):
    bin_dir, env, work = installed
    where = run([bin_dir / "python", "-c", "import fairseq_hybrid_vae; print(fairseq_hybrid_vae.__file__)"],
                work, env).stdout
    assert where.startswith(str(bin_dir.parent if bin_dir != STACK / "bin" else REPO)), where
    plugin_dir = run(["hybrid-vae-user-dir"], work, env).stdout.strip()
    assert os.path.isfile(os.path.join(plugin_dir, "config", "hybrid_vae_lstm_ptb.yaml"))

    help_text = run(["hybrid-vae-train", "--task", "text_vae", "--arch", "hybrid_vae_lstm",
                     "--criterion", "hybrid_vae_elbo", "--help"], work, env).stdout
    assert "--alpha" in help_text and "--sample-size" in help_text and "--lstm-cell" in help_text

    for split, n in [("train", 400), ("valid", 40)]:
        (work / f"{split}.txt").write_text("\n".join(synthetic_lines(n, seed=len(split))) + "\n")
    run(["hybrid-vae-prepare", "--train", "train.txt", "--valid", "valid.txt", "--destdir", "data-bin"],
        work, env)
    common = ["--task", "text_vae", "--sample-size", "16", "--cpu"]
    train = ["data-bin", *common, "--arch", "hybrid_vae_lstm", *tiny_model_flags("hybrid_vae_lstm"),
             "--criterion", "hybrid_vae_elbo", "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8",
             "--max-update", "3", "--save-dir", "checkpoints", "--no-epoch-checkpoints"]
    log = output(run(["hybrid-vae-train", *train], work, env))
    assert "num_updates 3" in log or '"num_updates": "3"' in log, log[-2000:]
    checkpoint = "checkpoints/checkpoint_last.pt"

    generated = run(["hybrid-vae-generate", "data-bin", *common, "--path", checkpoint, "--gen-mode", "prior",
                     "--gen-subset", "prior", "--num-samples", "3", "--beam", "1", "--batch-size", "3"],
                    work, env).stdout
    assert sum(line.startswith("D-") for line in generated.splitlines()) == 3, generated[-1500:]
    typed = run(["hybrid-vae-interactive", "data-bin", *common, "--path", checkpoint, "--beam", "1"],
                work, env, typed="a cat\nthe dog eats\n").stdout
    records = [line[:4] for line in typed.splitlines() if line[:2] in ("S-", "D-")]
    assert records == ["S-0\t", "D-0\t", "S-1\t", "D-1\t"], typed[-1500:]
    evaluated = run(["hybrid-vae-eval", "data-bin", "--path", checkpoint, "--split", "valid", "--cpu",
                     "--iw-samples", "2", "--max-samples", "4"], work, env).stdout
    assert "ELBO" in evaluated or "elbo" in evaluated, evaluated[-1500:]

    # fairseq's own command with the printed folder as --user-dir (fairseq-train's entry point)
    validated = run([bin_dir / "python", "-m", "fairseq_cli.validate", "data-bin", "--user-dir", plugin_dir,
                     *common, "--path", checkpoint, "--batch-size", "8"], work, env)
    validated = output(validated)
    assert "valid on 'valid' subset" in validated, validated[-1500:]

    # the shipped hydra config, found without --config-dir; two updates of the paper's PTB model
    run(["hybrid-vae-hydra-train", "--config-name", "hybrid_vae_lstm_ptb", f"task.data={work / 'data-bin'}",
         "common.cpu=true", "optimization.max_update=2", "dataset.batch_size=8", "dataset.num_workers=0",
         "checkpoint.save_dir=hydra-checkpoints"], work, env)
    assert (work / "hydra-checkpoints" / "checkpoint_last.pt").is_file()

    # two ranks started by torchrun from this folder: each worker finds the plugin on its own
    run([bin_dir / "python", "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29517",
         bin_dir / "hybrid-vae-train", *train, "--max-update", "2", "--save-dir", "checkpoints-2",
         "--distributed-backend", "gloo", "--ddp-backend", "legacy_ddp"], work, env)
    assert (work / "checkpoints-2" / "checkpoint_last.pt").is_file()

    wrong = run(["hybrid-vae-train", *train, "--user-dir", "fairseq_hybrid_vae"], work, env, check=False)
    assert wrong.returncode == 1 and "Traceback" not in wrong.stderr, wrong.stderr[-2000:]
    assert wrong.stderr.strip().count("\n") == 0 and "hybrid-vae-user-dir" in wrong.stderr, wrong.stderr


def test_each_command_passes_the_installed_folder_once():
    from fairseq_hybrid_vae.cli.commands import CONFIG_DIR, PLUGIN_DIR, check_config_name, with_plugin

    # fairseq's defaults: the translation task, the cross_entropy criterion
    assert with_plugin("train", ["data", "--cpu"]) == [
        "--user-dir", PLUGIN_DIR, "--task", "text_vae", "--criterion", "hybrid_vae_elbo", "data", "--cpu"]
    assert with_plugin("generate", ["data"]) == ["--user-dir", PLUGIN_DIR, "--task", "text_vae", "data"]
    same = ["data", "--user-dir", os.path.join(PLUGIN_DIR, "..", "fairseq_hybrid_vae"), "--task=text_vae",
            "--criterion", "cross_entropy"]
    assert with_plugin("train", same) == same
    assert with_plugin("train", ["data", "--task", "language_modeling"]) == [
        "--user-dir", PLUGIN_DIR, "data", "--task", "language_modeling"]
    assert with_plugin("hydra-train", ["--config-name", "x"]) == [
        "--config-dir", CONFIG_DIR, "--config-name", "x", f"common.user_dir={PLUGIN_DIR}"]
    assert with_plugin("hydra-train", ["--config-dir", "mine", f"common.user_dir={PLUGIN_DIR}"]) == [
        "--config-dir", "mine", f"common.user_dir={PLUGIN_DIR}"]
    for argv in (["--config-name", "hybrid_vae_lstm"], ["-cn", "hybrid_vae_lstm_ptb", "--config-dir", "/"]):
        refused = "no config 'hybrid_vae_lstm.*' in .*: choose one of .*hybrid_vae_lstm_ptb"
        with pytest.raises(SystemExit, match=refused):  # fairseq's hydra_main: an AttributeError
            check_config_name(argv)
    for argv in ([], ["--config-name", "hybrid_vae_lstm_ptb"], ["--config-name=config"],
                 ["-cn", "config.yaml"]):
        check_config_name(argv)  # the plugin's shipped config; fairseq's own
    for argv in (["--user-dir", "elsewhere"], ["--user-dir=elsewhere"], ["common.user_dir=elsewhere"]):
        with pytest.raises(SystemExit, match="drop the user dir 'elsewhere'"):
            with_plugin("hydra-train" if "common" in argv[0] else "train", argv)
