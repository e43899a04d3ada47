"""--bf16-autocast: matmuls and convolutions in bf16 through fairseq-train, weights and loss in fp32;
one warning line and fp32 on a processor without bf16 matrix instructions."""

import json
import math
import os

import pytest
import torch
from conftest import run_train
from fairseq import checkpoint_utils

from fairseq_hybrid_vae import TextVAEHubInterface
from fairseq_hybrid_vae.cli.evaluate import cli_main as evaluate_cli
from fairseq_hybrid_vae.common import compat
from fairseq_hybrid_vae.tasks import text_vae

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down


def train_seeing_dtypes(tiny_data, save_dir, arch, extra, caplog):
    """fairseq-train in this process; the logged updates and the dtype of every Linear/Conv output."""
    seen = set()

    def hook(module, args, output):
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        logs = run_train(tiny_data, save_dir, arch, ["--max-update", "4", "--no-epoch-checkpoints", *extra],
                         caplog)
    finally:
        handle.remove()
    return logs, seen


@pytest.mark.parametrize("arch", ["hybrid_vae_lstm", "hybrid_vae_bytenet"])
def test_bf16_layers_fp32_weights_and_a_loss_near_fp32s(tiny_data, tmp_path, caplog, monkeypatch, arch):
    monkeypatch.setattr(text_vae, "why_not_bf16", lambda device_type: None)  # as on a bf16 processor
    fp32, fp32_dtypes = train_seeing_dtypes(tiny_data, str(tmp_path / "fp32"), arch, [], caplog)
    bf16, bf16_dtypes = train_seeing_dtypes(tiny_data, str(tmp_path / "bf16"), arch, ["--bf16-autocast"],
                                            caplog)
    assert fp32_dtypes == {torch.float32} and torch.bfloat16 in bf16_dtypes
    state = torch.load(os.path.join(tmp_path / "bf16", "checkpoint_last.pt"), weights_only=True)
    assert {v.dtype for v in state["model"].values() if v.is_floating_point()} == {torch.float32}
    assert len(bf16) == len(fp32) == 4
    for a, b in zip(fp32, bf16):
        # bf16 keeps 8 bits of mantissa: each matmul's output is off by up to ~0.4% relative.
        assert math.isfinite(float(b["loss"]))
        assert float(b["loss"]) == pytest.approx(float(a["loss"]), rel=0.02)
    assert any(float(a["loss"]) != float(b["loss"]) for a, b in zip(fp32, bf16))  # it did run in bf16


def test_without_bf16_instructions_one_warning_and_fp32(tiny_data, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(compat, "cpu_flags", lambda: {"avx2", "fma"})
    _, dtypes = train_seeing_dtypes(tiny_data, str(tmp_path), "hybrid_vae_bytenet", ["--bf16-autocast"],
                                    caplog)
    assert dtypes == {torch.float32}
    warnings = [r.getMessage() for r in caplog.records if "--bf16-autocast" in r.getMessage()]
    assert warnings == ["--bf16-autocast: this processor has no bf16 matrix instructions "
                        "(amx_bf16 or avx512_bf16): running in fp32"]


def test_the_flag_reaches_generation_and_evaluation(tiny_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(text_vae, "why_not_bf16", lambda device_type: None)
    run_train(tiny_data, str(tmp_path), "hybrid_vae_lstm", ["--max-update", "3", "--no-epoch-checkpoints"])
    checkpoint = str(tmp_path / "checkpoint_last.pt")
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint],
                                                                   arg_overrides={"bf16_autocast": True})
    with task.autocast(models[0]):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    results = {}
    for name, flags in [("fp32", []), ("bf16", ["--bf16-autocast"])]:
        evaluate_cli([tiny_data, "--path", checkpoint, "--split", "valid", "--iw-samples", "2",
                      "--max-samples", "8", "--diversity-samples", "0", "--cpu",
                      "--json", str(tmp_path / f"{name}.json"), *flags])
        results[name] = (tmp_path / f"{name}.json").read_text()
    fp32, bf16 = (json.loads(results[k])["nats_per_sample"]["elbo"] for k in ("fp32", "bf16"))
    assert bf16 == pytest.approx(fp32, rel=0.02) and bf16 != fp32
    capsys.readouterr()

    # the Python API: fp32 unless asked, codes returned in fp32 either way
    texts = ["the cat sees the fish.", "a dog eats some milk."]
    codes = {}
    for flag in (False, True):
        vae = TextVAEHubInterface.from_pretrained(str(tmp_path), "checkpoint_last.pt",
                                                  data_name_or_path=tiny_data, bf16_autocast=flag)
        assert vae.task.cfg.bf16_autocast is flag
        codes[flag] = vae.encode(texts)[0]
        assert codes[flag].dtype == torch.float32 and len(vae.decode(codes[flag])) == 2
    torch.testing.assert_close(codes[True], codes[False], atol=0.02, rtol=0.02)  # bf16: ~3 digits
    assert not torch.equal(codes[True], codes[False])


def test_a_checkpoint_older_than_the_option_takes_it_for_inference(monkeypatch):
    """fairseq drops overrides of keys a checkpoint's config lacks: version 0.1's has no bf16_autocast."""
    monkeypatch.setattr(text_vae, "why_not_bf16", lambda device_type: None)
    old = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoints_v0.1")
    codes = {}
    for flag in (False, True):
        vae = TextVAEHubInterface.from_pretrained(old, "hybrid_vae_lstm.pt",
                                                  data_name_or_path=os.path.join(old, "data"),
                                                  bf16_autocast=flag)
        codes[flag] = vae.encode([" the cat sees"])[0]
    torch.testing.assert_close(codes[True], codes[False], atol=0.02, rtol=0.02)
    assert not torch.equal(codes[True], codes[False])
