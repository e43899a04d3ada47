"""Shapes, causality and incremental decoding of the reusable layers."""

import logging
import math

import pytest
import torch
import torch.nn.functional as F
from fairseq.data import Dictionary

from fairseq_hybrid_vae.modules import (
    LSTM_CELLS,
    ByteNetHead,
    CausalConv1d,
    ConvEncoder,
    DeconvDecoder,
    HistorylessHead,
    LayerNormLSTM,
    LSTMHead,
    compiled,
    gate_norm_steps,
    gaussian_kl,
)
from fairseq_hybrid_vae.modules.lstm_cells import GateNormLSTM, TokenInput
from fairseq_hybrid_vae.modules.one_hot import OneHot

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down


def make_dictionary(num_symbols: int = 10) -> Dictionary:
    dictionary = Dictionary()
    for i in range(num_symbols):
        dictionary.add_symbol(chr(ord("a") + i))
    return dictionary


@pytest.mark.parametrize("sample_size,channels", [(12, [8, 16]), (60, [8, 16]), (64, [4, 8, 8, 8, 8])])
def test_encoder_and_deconv_shapes(sample_size, channels):
    torch.manual_seed(0)
    encoder = ConvEncoder(vocab_size=14, channels=channels, sample_size=sample_size, latent_dim=5)
    decoder = DeconvDecoder(latent_dim=5, encoder_channels=channels, sample_size=sample_size,
                            feature_dim=7)
    tokens = torch.randint(0, 14, (3, sample_size))
    mu, logvar = encoder(tokens)
    assert mu.shape == logvar.shape == (3, 5)
    assert decoder(mu).shape == (3, sample_size, 7)


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3) * 0.5
    z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, 4, 3)
    log_q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z)
    monte_carlo = (log_q - log_p).mean(0)  # (4, 3)
    torch.testing.assert_close(gaussian_kl(mu, logvar), monte_carlo, atol=0.02, rtol=0.02)
    assert torch.all(gaussian_kl(torch.zeros(2), torch.zeros(2)) == 0)


def test_layer_norm_lstm_matches_a_step_by_step_reference():
    torch.manual_seed(0)
    lstm = LayerNormLSTM(input_size=3, hidden_size=4)
    torch.nn.init.normal_(lstm.norm.weight), torch.nn.init.normal_(lstm.norm.bias)  # not the identity
    x = torch.randn(2, 5, 3)
    out, (h, c) = lstm(x)
    h_ref, c_ref = torch.zeros(2, 4), torch.zeros(2, 4)
    ref_outputs = []
    for t in range(5):
        pre = torch.cat([x[:, t], h_ref], -1) @ torch.cat(
            [lstm.input_proj.weight, lstm.hidden_proj.weight], 1
        ).T + lstm.input_proj.bias
        pre = torch.nn.functional.layer_norm(pre, (16,), lstm.norm.weight, lstm.norm.bias, eps=1e-4)
        i, f, o, g = pre.chunk(4, -1)
        c_ref = torch.sigmoid(f) * c_ref + torch.sigmoid(i) * torch.tanh(g)
        h_ref = torch.sigmoid(o) * torch.tanh(c_ref)
        ref_outputs.append(h_ref)
        torch.testing.assert_close(out[:, t], h_ref)
    torch.testing.assert_close(c, c_ref)
    # The fused step's backward too: the same gradients as the reference's.
    (out.square().sum() + c.sum()).backward()
    fused_grads = [p.grad.clone() for p in lstm.parameters()]
    lstm.zero_grad()
    (torch.stack(ref_outputs, 1).square().sum() + c_ref.sum()).backward()
    for fused, ref in zip(fused_grads, (p.grad for p in lstm.parameters())):
        torch.testing.assert_close(fused, ref)


@pytest.mark.parametrize("training_pass", ["fused", "autograd"])
def test_gate_norm_lstm_matches_a_step_by_step_reference(training_pass, monkeypatch):
    """Each gate normalised on its own (mean 0, variance 1 over its H units), c_t normalised before
    the output tanh, forget bias 1 at the start; the cell's backward gives autograd's gradients
    through the reference, for every weight, the inputs and the initial state. Both training passes:
    the fused one (compiled kernels, a backward derived by hand) and the one under autograd (the
    recurrent weight's gradient in one matmul), which runs where compiling is unavailable."""
    monkeypatch.setenv("HYBRID_VAE_COMPILE", "1" if training_pass == "fused" else "0")
    torch.manual_seed(0)
    H = 4
    lstm = GateNormLSTM(input_size=3, hidden_size=H).double()
    gate_bias = lstm.gate_norm.bias  # (4, H)
    assert torch.equal(gate_bias[1], torch.ones(H, dtype=torch.double)) and gate_bias[[0, 2, 3]].eq(0).all()
    for param in [lstm.gate_norm.weight, lstm.gate_norm.bias, lstm.cell_norm.weight, lstm.cell_norm.bias]:
        torch.nn.init.normal_(param)  # not the identity
    T = gate_norm_steps.STEPS_PER_KERNEL + 3  # the fused pass's kernels: one whole call, one shorter
    x = torch.randn(2, T, 3, dtype=torch.double, requires_grad=True)
    state = [torch.randn(2, H, dtype=torch.double, requires_grad=True) for _ in range(2)]
    out, (h, c) = lstm(x, state)
    fused = type(out.grad_fn).__name__ == "GateNormLSTMSequenceBackward"
    assert fused == (training_pass == "fused"), type(out.grad_fn).__name__

    def normalise(v):
        return (v - v.mean(-1, keepdim=True)) / torch.sqrt(v.var(-1, unbiased=False, keepdim=True) + 1e-5)

    h_ref, c_ref = state
    ref_outputs = []
    for t in range(T):
        pre = x[:, t] @ lstm.input_proj.weight.T + h_ref @ lstm.hidden_proj.weight.T  # (B, 4H)
        gates = [normalise(g) * lstm.gate_norm.weight[k] + gate_bias[k]
                 for k, g in enumerate(pre.chunk(4, -1))]
        c_ref = torch.sigmoid(gates[1]) * c_ref + torch.sigmoid(gates[0]) * torch.tanh(gates[3])
        cell = normalise(c_ref) * lstm.cell_norm.weight + lstm.cell_norm.bias
        h_ref = torch.sigmoid(gates[2]) * torch.tanh(cell)
        ref_outputs.append(h_ref)
        torch.testing.assert_close(out[:, t], h_ref)
    torch.testing.assert_close((h, c), (h_ref, c_ref))
    leaves = [x, *state, *lstm.parameters()]

    def loss(outputs, h, c):  # every output of the cell reaches the loss, with weights of its own
        weights = torch.linspace(-1, 2, outputs.numel(), dtype=torch.double).view_as(outputs)
        return (weights * outputs).sum() + h.square().sum() + (c * torch.arange(H)).sum()

    grads = torch.autograd.grad(loss(out, h, c), leaves)
    ref_grads = torch.autograd.grad(loss(torch.stack(ref_outputs, 1), h_ref, c_ref), leaves)
    for grad, ref_grad in zip(grads, ref_grads):
        torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize(("cell", "compile_flag"),
                         [(cell, "0") for cell in LSTM_CELLS] + [("layernorm", "1")],
                         ids=[*LSTM_CELLS, "layernorm-fused"])
@pytest.mark.parametrize("make_embed", [lambda: torch.nn.Embedding(7, 3), lambda: OneHot(7)],
                         ids=["embedding", "one-hot"])
@pytest.mark.parametrize("features", [0, 2])
def test_every_cell_reads_a_token_input_as_its_joined_tensor(cell, compile_flag, make_embed, features,
                                                            monkeypatch):
    """[feature_t ; embed(token_t)] given apart (the default cell gathers the embedding's projection
    from a per-type table when there are no features) or joined by hand: the same outputs and the
    same gradients for every weight, the embedding's and the features'; for the default cell in its
    autograd pass and in its fused one, which gathers the table's rows chunk by chunk."""
    monkeypatch.setenv("HYBRID_VAE_COMPILE", compile_flag)
    torch.manual_seed(0)
    embed = make_embed().double()
    lstm = LSTM_CELLS[cell](features + embed.embedding_dim, 5).double()
    T = gate_norm_steps.STEPS_PER_KERNEL + 3  # two chunks in the fused pass
    tokens = torch.randint(0, 7, (3, T))
    x = torch.randn(3, T, features, dtype=torch.double, requires_grad=True)
    leaves = [x, *lstm.parameters(), *embed.parameters()]
    results = []
    for given in (TokenInput(x, tokens, embed), torch.cat([x, embed(tokens)], dim=-1)):
        out, (h, c) = lstm(given)
        loss = (out * torch.linspace(-1, 2, out.numel(), dtype=torch.double).view_as(out)).sum() + c.sum()
        results.append((out, h, c, *torch.autograd.grad(loss, leaves, allow_unused=True)))
    for got, expected in zip(*results):
        if got is None or expected is None:  # no weights of their own (OneHot) or no features at all
            assert all(g is None or g.numel() == 0 for g in (got, expected))
        else:
            torch.testing.assert_close(got, expected)


def test_gate_norm_lstm_trains_under_autograd_where_compiling_fails(monkeypatch, caplog):
    """A torch.compile that cannot compile (no C++ compiler, say): one warning, then the same
    outputs and gradients as the fused pass gave, from the autograd pass, for the rest of the process."""
    monkeypatch.setenv("HYBRID_VAE_COMPILE", "1")
    torch.manual_seed(0)
    lstm = GateNormLSTM(input_size=3, hidden_size=6).double()
    x = torch.randn(2, 5, 3, dtype=torch.double)

    def outputs_and_gradients():
        lstm.zero_grad()
        out, (h, c) = lstm(x)
        (out.sin().sum() + c.sum()).backward()
        return type(out.grad_fn).__name__, [out, h, c] + [p.grad.clone() for p in lstm.parameters()]

    monkeypatch.setattr(compiled, "_COMPILED", {})
    monkeypatch.setattr(compiled, "_FAILED", set())
    fused_pass, expected = outputs_and_gradients()
    assert fused_pass == "GateNormLSTMSequenceBackward"

    def no_compiler(fn, **kwargs):
        def compiled(*args):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return compiled

    monkeypatch.setattr(compiled, "_COMPILED", {})
    monkeypatch.setattr(compiled.torch, "compile", no_compiler)
    with caplog.at_level(logging.WARNING):
        results = [outputs_and_gradients() for _ in range(2)]
    warnings = [r for r in caplog.records if "torch.compile failed" in r.getMessage()]
    assert len(warnings) == 1 and "No working C++ compiler" in warnings[0].getMessage()
    assert [name for name, _ in results] == ["GateNormLSTMSequenceBackward", "StackBackward0"]
    for _, got in results:  # the first fell back inside the fused pass, the second never tried it
        for value, reference in zip(got, expected):
            torch.testing.assert_close(value, reference)


@pytest.mark.parametrize("training_pass", ["fused", "autograd"])
@pytest.mark.parametrize("given", ["tensor", "tokens"])
def test_gate_norm_lstm_gradients_under_bfloat16_autocast(training_pass, given, monkeypatch):
    """Under autocast the steps' matmuls run in bfloat16 while the states stay float32: the gradients
    of every weight and of the input are float32, like them, and near the float32 pass's. For a
    tensor, and for features beside tokens (whose embedding's projection is a table)."""
    monkeypatch.setenv("HYBRID_VAE_COMPILE", "1" if training_pass == "fused" else "0")
    torch.manual_seed(0)
    T = gate_norm_steps.STEPS_PER_KERNEL + 3
    embed = torch.nn.Embedding(5, 2)
    lstm = GateNormLSTM(input_size=3 if given == "tensor" else 1 + 2, hidden_size=8)
    x = torch.randn(4, T, 3 if given == "tensor" else 1, requires_grad=True)
    if given == "tokens":
        x = TokenInput(x, torch.randint(0, 5, (4, T)), embed)
    leaves = [x if given == "tensor" else x.features, *lstm.parameters(), *embed.parameters()]
    grads = []
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out, _ = lstm(x)
        grads.append(torch.autograd.grad(out.float().square().sum(), leaves, allow_unused=True))
    if given == "tensor":  # the embedding is not used
        grads = [g[:-1] for g in grads]
    for grad_bf16, grad_fp32 in zip(*grads[::-1]):
        assert grad_bf16.dtype == torch.float32
        torch.testing.assert_close(grad_bf16, grad_fp32, rtol=0.05, atol=0.05 * grad_fp32.abs().max().item())


@pytest.mark.parametrize("dtype,rtol", [(torch.bfloat16, 2 ** -7), (torch.float32, 1e-5)],
                         ids=["bf16", "fp32"])
def test_packed_recurrent_weight_multiplies_as_the_plain_one(dtype, rtol, monkeypatch):
    """On a CPU the fused pass packs W for oneDNN once per pass (bf16; fp32 off Intel's processors):
    x W^T as the unpacked matmul gives it, up to the rounding of the output (the two kernels may sum
    in another order)."""
    monkeypatch.setattr(gate_norm_steps, "PACKED_DTYPES", (torch.bfloat16, torch.float32))
    torch.manual_seed(0)
    weight = torch.randn(40, 10).to(dtype)  # (4H, H)
    packed = gate_norm_steps.MatmulWeight.of(weight, 6)
    if not packed.packed:
        pytest.skip(f"oneDNN packs no {dtype} weight here (a build or instruction set without it)")
    x = torch.randn(6, 10).to(dtype)
    exact = x.double() @ weight.double().t()
    got = packed.times_t(x)
    assert got.dtype == dtype and got.shape == (6, 40)
    torch.testing.assert_close(got.double(), exact, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("vendor,fp32_packed", [("GenuineIntel", False), ("AuthenticAMD", True), ("", False)])
def test_fp32_step_matmuls_are_packed_only_off_intels_processors(vendor, fp32_packed):
    """MKL, torch's fp32 matmul, is tuned for Intel's processors; elsewhere oneDNN's is faster, and
    where the processor is unknown the plain matmul stays."""
    dtypes = gate_norm_steps.packed_dtypes(vendor)
    assert torch.bfloat16 in dtypes
    assert (torch.float32 in dtypes) == (fp32_packed and torch.backends.mkl.is_available())


def test_a_dtype_that_cannot_be_packed_leaves_the_others_packed(monkeypatch, caplog):
    """Where oneDNN refuses one dtype (bf16 without AVX-512), that dtype's matmuls stay plain, said
    once, and the other dtypes' weights are still packed."""
    monkeypatch.setattr(gate_norm_steps, "PACKED_DTYPES", (torch.bfloat16, torch.float32))
    monkeypatch.setattr(gate_norm_steps, "_UNPACKABLE", set())
    reorder = gate_norm_steps.reorder_for_onednn

    def refusing_bf16(weight, batch_size):
        if weight.dtype == torch.bfloat16:
            raise RuntimeError("bf16 path needs the cpu support avx512bw")
        return reorder(weight, batch_size)

    monkeypatch.setattr(gate_norm_steps, "reorder_for_onednn", refusing_bf16)
    weight = torch.randn(8, 4)
    with caplog.at_level(logging.INFO):
        bf16 = [gate_norm_steps.MatmulWeight.of(weight.bfloat16(), 2) for _ in range(2)]
        fp32 = gate_norm_steps.MatmulWeight.of(weight, 2)
    assert not any(w.packed for w in bf16) and torch.equal(bf16[0].weight, weight.bfloat16())
    assert len([r for r in caplog.records if "packing unavailable" in r.getMessage()]) == 1
    if not fp32.packed and not reorder_works(weight):
        pytest.skip("oneDNN packs no float32 weight here")
    assert fp32.packed


def reorder_works(weight: torch.Tensor) -> bool:
    try:
        gate_norm_steps.reorder_for_onednn(weight, 2)
        return True
    except (AttributeError, RuntimeError):
        return False


def test_fused_pass_with_packed_fp32_weights_equals_the_plain_one(monkeypatch):
    """The fp32 fused pass, its recurrent matmuls through the packed weight or the plain one: the same
    outputs and gradients up to fp32 rounding."""
    monkeypatch.setenv("HYBRID_VAE_COMPILE", "1")
    if not reorder_works(torch.ones(8, 2)):
        pytest.skip("oneDNN packs no float32 weight here")
    torch.manual_seed(0)
    lstm = GateNormLSTM(input_size=3, hidden_size=8)
    x = torch.randn(4, gate_norm_steps.STEPS_PER_KERNEL + 3, 3, requires_grad=True)
    results = []
    for dtypes in [(torch.bfloat16,), (torch.bfloat16, torch.float32)]:
        monkeypatch.setattr(gate_norm_steps, "PACKED_DTYPES", dtypes)
        out, (h, c) = lstm(x)
        assert type(out.grad_fn).__name__ == "GateNormLSTMSequenceBackward"
        loss = (out * torch.linspace(-1, 2, out.numel()).view_as(out)).sum() + c.sum()
        results.append((out, h, c, *torch.autograd.grad(loss, [x, *lstm.parameters()])))
    for got, expected in zip(*results):
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", list(LSTM_CELLS))
def test_every_cell_continues_from_a_given_state(cell):
    """Two halves of a sequence, the second started from the first's last state, equal the whole."""
    torch.manual_seed(0)
    lstm = LSTM_CELLS[cell](input_size=3, hidden_size=5)
    x = torch.randn(2, 8, 3)
    whole, (h, c) = lstm(x)
    first, state = lstm(x[:, :3])
    second, (h2, c2) = lstm(x[:, 3:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    torch.testing.assert_close((h2, c2), (h, c))
    assert whole.shape == (2, 8, 5) and h.shape == c.shape == (2, 5)


@pytest.mark.parametrize("dilation,kernel", [(1, 2), (3, 2), (2, 3)])
def test_causal_conv_receptive_field(dilation, kernel):
    torch.manual_seed(0)
    conv = CausalConv1d(2, 3, kernel_size=kernel, dilation=dilation)
    x = torch.randn(1, 12, 2)
    history = (kernel - 1) * dilation
    for t in range(12):
        changed = x.clone()
        changed[:, t] += 1.0
        diff = (conv(changed) - conv(x)).abs().sum(-1)[0]  # (T,)
        affected = {s for s in range(12) if diff[s] > 1e-6}
        # Only outputs that have t at one of their taps s, s-d, ..., s-history change.
        assert affected == {t + k * dilation for k in range(kernel) if t + k * dilation < 12}
        assert max(affected) - t <= history


@pytest.mark.parametrize("dilation,kernel", [(1, 2), (3, 2), (2, 3)])
def test_causal_conv_equals_torchs_conv1d_on_the_left_padded_input(dilation, kernel):
    """The module computes its taps as one matmul; torch's conv1d with its weights is the reference."""
    torch.manual_seed(0)
    conv = CausalConv1d(4, 5, kernel_size=kernel, dilation=dilation)
    x = torch.randn(3, 12, 4)  # (B, T, C_in)
    padded = F.pad(x.transpose(1, 2), ((kernel - 1) * dilation, 0))  # (B, C_in, history + T)
    reference = F.conv1d(padded, conv.weight, conv.bias, dilation=dilation).transpose(1, 2)  # (B, T, C_out)
    torch.testing.assert_close(conv(x), reference, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("dilation,kernel", [(1, 2), (3, 2), (2, 3)])
def test_causal_conv_one_position_at_a_time_equals_the_full_pass(dilation, kernel):
    torch.manual_seed(0)
    conv = CausalConv1d(4, 5, kernel_size=kernel, dilation=dilation)
    x = torch.randn(3, 12, 4)
    full = conv(x)  # (B, T, C_out)
    state = {}
    steps = [conv(x[:, t : t + 1], incremental_state=state) for t in range(12)]  # T x (B, 1, C_out)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-6, rtol=1e-5)


LSTM_KINDS = [f"lstm:{cell}" for cell in LSTM_CELLS]  # the LSTM head on every cell
HEAD_KINDS = LSTM_KINDS + ["bytenet", "bytenet:history-dropout", "none"]


def build_head(kind: str, dictionary: Dictionary, feature_dim: int = 6):
    if kind.startswith("lstm:"):
        cell = kind.split(":")[1]
        return LSTMHead(dictionary, feature_dim, embed_dim=0, hidden_size=8, num_layers=2, cell=cell)
    if kind.startswith("bytenet"):  # with history dropout: one more embedding row, used in training only
        return ByteNetHead(dictionary, feature_dim, embed_dim=5, channels=8, dilations=[1, 2, 1],
                           input_dropout=0.5 if kind.endswith("dropout") else 0.0)
    return HistorylessHead(dictionary, feature_dim)


@pytest.mark.parametrize("kind", HEAD_KINDS)
def test_heads_are_causal(kind):
    """Changing the decoder input at t (token or feature) changes no output at a position < t."""
    torch.manual_seed(0)
    dictionary = make_dictionary()
    head = build_head(kind, dictionary).eval()
    length = 9
    tokens = torch.randint(4, len(dictionary), (2, length))
    features = torch.randn(2, length, 6)
    base, _ = head(tokens, encoder_out={"features": features})
    assert base.shape == (2, length, len(dictionary))
    for t in range(length):
        changed_tokens = tokens.clone()
        changed_tokens[:, t] = 4 + (tokens[:, t] - 4 + 1) % (len(dictionary) - 4)
        changed_features = features.clone()
        changed_features[:, t] += 1.0
        for tok, feat in [(changed_tokens, features), (tokens, changed_features)]:
            out, _ = head(tok, encoder_out={"features": feat})
            # Exact, not within a tolerance: both passes run here, on the same inputs up to t, and a
            # causal head's outputs before t never read position t, so not one bit may move.
            torch.testing.assert_close(out[:, :t], base[:, :t], atol=0, rtol=0)
            if kind != "none" or feat is changed_features:
                assert not torch.allclose(out[:, t], base[:, t])


def test_bytenet_receptive_field_is_layers_plus_one():
    torch.manual_seed(0)
    dictionary = make_dictionary()
    layers = 3
    head = ByteNetHead(dictionary, 6, embed_dim=0, channels=8, dilations=[1] * layers).eval()
    assert head.receptive_field == layers + 1
    tokens = torch.randint(4, len(dictionary), (1, 12))
    features = torch.zeros(1, 12, 6)
    base, _ = head(tokens, encoder_out={"features": features})
    t = 10
    for s in range(12):
        changed = tokens.clone()
        changed[0, s] = 4 + (tokens[0, s] - 4 + 1) % (len(dictionary) - 4)
        out, _ = head(changed, encoder_out={"features": features})
        sees = not torch.allclose(out[0, t], base[0, t])
        assert sees == (t - layers <= s <= t), s


def test_bytenet_head_dropout_drops_each_blocks_candidate_in_training_only():
    """With dropout 1 a training pass keeps only sigmoid(f) * x in every block; at evaluation the head
    equals the same weights without dropout."""
    torch.manual_seed(0)
    dictionary = make_dictionary()
    head = ByteNetHead(dictionary, 6, embed_dim=5, channels=8, dilations=[1, 2], dropout=1.0)
    plain = ByteNetHead(dictionary, 6, embed_dim=5, channels=8, dilations=[1, 2])
    plain.load_state_dict(head.state_dict())
    tokens = torch.randint(4, len(dictionary), (2, 9))
    features = torch.randn(2, 9, 6)
    torch.testing.assert_close(head.eval()(tokens, encoder_out={"features": features})[0],
                               plain.eval()(tokens, encoder_out={"features": features})[0])
    content, gate = head.input_norm(head.input_proj(torch.cat(
        [features, head.embed_tokens(tokens)], -1))).chunk(2, dim=-1)  # 2 x (B, T, C)
    x = torch.tanh(content) * torch.sigmoid(gate)
    for block in head.blocks:
        x = torch.sigmoid(block.norm(block.conv(x))[..., 8:16]) * x  # the forget gate only: (B, T, C)
    torch.testing.assert_close(head.train()(tokens, encoder_out={"features": features})[0],
                               head.output_projection(x))


@pytest.mark.parametrize("kind", HEAD_KINDS)
def test_incremental_decoding_equals_full_forward(kind):
    torch.manual_seed(0)
    dictionary = make_dictionary()
    head = build_head(kind, dictionary).eval()
    tokens = torch.randint(4, len(dictionary), (3, 10))
    encoder_out = {"features": torch.randn(3, 10, 6)}
    full, _ = head(tokens, encoder_out=encoder_out)
    state = {}
    for t in range(10):
        step, _ = head(tokens[:, : t + 1], encoder_out=encoder_out, incremental_state=state)
        torch.testing.assert_close(step[:, 0], full[:, t], atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", LSTM_KINDS + ["bytenet"])
def test_incremental_state_follows_a_beam_reorder(kind):
    """As fairseq's SequenceGenerator does: reorder the cached state mid-sequence, then go on."""
    torch.manual_seed(0)
    dictionary = make_dictionary()
    head = build_head(kind, dictionary).eval()
    batch, length, switch = 4, 10, 5
    tokens = torch.randint(4, len(dictionary), (batch, length))
    features = torch.randn(batch, length, 6)
    order = torch.tensor([2, 0, 0, 1])  # as beam search: one row dropped, one continued twice
    # After the reorder at step `switch`, row i continues the history of row order[i]: its full pass
    # is that of the permuted batch; before it, that of the original batch.
    before, _ = head(tokens, encoder_out={"features": features})
    after, _ = head(tokens[order], encoder_out={"features": features[order]})
    state = {}
    encoder_out = {"features": features}
    for t in range(length):
        if t == switch:
            head.reorder_incremental_state_scripting(state, order)
            encoder_out = {"features": features[order]}
            tokens = tokens[order]
        step, _ = head(tokens[:, : t + 1], encoder_out=encoder_out, incremental_state=state)
        reference = before if t < switch else after
        torch.testing.assert_close(step[:, 0], reference[:, t], atol=1e-5, rtol=0)


def test_interpolation_paths():
    from fairseq_hybrid_vae.modules import interpolate_latents

    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    for method in ["lerp", "slerp"]:
        torch.testing.assert_close(interpolate_latents(a, b, torch.tensor([0.0]), method), a)
        torch.testing.assert_close(interpolate_latents(a, b, torch.tensor([1.0]), method), b)
    half = interpolate_latents(a, b, torch.tensor([0.5]), "lerp")
    torch.testing.assert_close(half, torch.tensor([[0.5, 1.0]]))
    # Between unit vectors slerp stays on the unit circle and moves at a uniform angle.
    east, north = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    for w in [0.25, 0.5, 0.9]:
        point = interpolate_latents(east, north, torch.tensor([w]), "slerp")[0]
        assert abs(float(point.norm()) - 1) < 1e-5
        assert abs(float(torch.atan2(point[1], point[0])) - w * math.pi / 2) < 1e-5
    same = interpolate_latents(a, a, torch.tensor([0.3]), "slerp")
    torch.testing.assert_close(same, a)


@pytest.mark.parametrize("kind", LSTM_KINDS + ["bytenet"])
def test_incremental_state_does_not_grow_with_the_position(kind):
    """One step's work is bounded: the cache holds a fixed number of values at every position."""
    dictionary = make_dictionary()
    head = build_head(kind, dictionary).eval()
    tokens = torch.randint(4, len(dictionary), (2, 30))
    encoder_out = {"features": torch.randn(2, 30, 6)}
    state, sizes = {}, []
    for t in range(30):
        head(tokens[:, : t + 1], encoder_out=encoder_out, incremental_state=state)
        sizes.append(sum(v.numel() for value in state.values() for v in _tensors(value)))
    assert len(set(sizes)) == 1 and sizes[0] > 0


def _tensors(value):
    if torch.is_tensor(value):
        return [value]
    return [t for item in value for t in _tensors(item)] if isinstance(value, (list, tuple)) else []


def test_bytenet_training_pass_compiled_gives_the_eager_outputs_and_gradients(monkeypatch):
    """With gradients on, the ByteNet head's gating runs compiled (modules/compiled.py); its outputs and
    every parameter's gradient are those of the same head run eagerly (HYBRID_VAE_COMPILE=0)."""
    torch.manual_seed(0)
    dictionary = make_dictionary()
    head = build_head("bytenet", dictionary).double()
    tokens = torch.randint(4, len(dictionary), (3, 11))
    features = torch.randn(3, 11, 6, dtype=torch.double)
    monkeypatch.setattr(compiled, "_COMPILED", {})

    def outputs_and_gradients(compile_flag: str):
        monkeypatch.setenv("HYBRID_VAE_COMPILE", compile_flag)
        head.zero_grad()
        out, _ = head(tokens, encoder_out={"features": features})
        out.sin().sum().backward()
        return [out] + [p.grad.clone() for p in head.parameters()]

    eager = outputs_and_gradients("0")
    assert not compiled._COMPILED
    fused = outputs_and_gradients("1")
    assert {fn.__name__ for fn, _ in compiled._COMPILED} == {"highway_gating", "gated_projection"}
    for got, expected in zip(fused, eager):
        torch.testing.assert_close(got, expected)
