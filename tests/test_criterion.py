"""The KL annealing schedule and the ELBO criterion's arithmetic and logging."""

import math
from types import SimpleNamespace

import pytest
import torch
from fairseq import metrics
from fairseq.data import Dictionary

from fairseq_hybrid_vae.criterions.hybrid_vae_elbo import (
    HybridVAEElboConfig,
    HybridVAEElboCriterion,
    kl_weight_at,
    linear_ramp,
    warn_if_kl_weight_stays_low,
)
from fairseq_hybrid_vae.modules import gaussian_kl

pytestmark = pytest.mark.float_sensitive  # scripts/test.sh runs these again one instruction set down


def test_kl_weight_schedule():
    assert kl_weight_at(0, 0.001, 1000, 7000) == 0.001
    assert kl_weight_at(1000, 0.001, 1000, 7000) == 0.001
    assert kl_weight_at(4500, 0.001, 1000, 7000) == pytest.approx(0.001 + 0.999 * 0.5)
    assert kl_weight_at(8000, 0.001, 1000, 7000) == 1.0
    assert kl_weight_at(10**6, 0.001, 1000, 7000) == 1.0
    weights = [kl_weight_at(u, 0.0, 10, 20) for u in range(0, 40)]
    assert weights == sorted(weights)  # monotone
    steps = [b - a for a, b in zip(weights[10:30], weights[11:31])]
    assert all(s == pytest.approx(1 / 20) for s in steps)  # linear
    assert kl_weight_at(0, 0.001, 1000, 0) == 1.0  # no annealing


def test_cyclical_kl_weight_schedule():
    """Fu et al. 2019: 4 cycles of 100 updates from update 200, rising over the first half of each."""
    floor, start, updates = 0.01, 200, 400
    expected = {u: floor for u in range(0, 201)}  # before the cycles
    for k in range(4):
        first = start + 100 * k
        for u in range(first, first + 100):
            expected[u] = floor + (1 - floor) * min((u - first) / 50, 1.0)  # rising, then 1
    expected.update({u: 1.0 for u in range(600, 700)})  # after them
    for u, weight in expected.items():
        assert kl_weight_at(u, floor, start, updates, cycles=4, ratio=0.5) == pytest.approx(weight), u
    # One cycle rising all along is the plain ramp.
    assert all(kl_weight_at(u, floor, start, updates, 1, 1.0) == kl_weight_at(u, floor, start, updates)
               for u in range(700))


@pytest.mark.parametrize("start, updates, cycles, ratio", [(1000, 7000, 1, 1.0), (0, 300, 3, 0.5),
                                                          (50, 100, 4, 0.3), (10, 0, 1, 1.0)])
def test_a_warning_exactly_where_the_kl_weight_stays_below_1(start, updates, cycles, ratio):
    """Warned iff kl_weight_at stays below 1 at every update up to --max-update, update by update."""
    cfg = HybridVAEElboConfig(kl_anneal_start=start, kl_anneal_updates=updates, kl_anneal_cycles=cycles,
                              kl_anneal_ratio=ratio)
    cfg._name = "hybrid_vae_elbo"
    reaches_1 = kl_weight_at(0, 0.001, start, updates, cycles, ratio) == 1
    for max_update in range(1, start + updates + 3):
        reaches_1 = reaches_1 or kl_weight_at(max_update, 0.001, start, updates, cycles, ratio) == 1
        assert (warn_if_kl_weight_stays_low(cfg, max_update) is None) == reaches_1, max_update
    assert warn_if_kl_weight_stays_low(cfg, 0) is None  # no --max-update: fairseq trains on
    cfg.kl_weight = 0.5
    assert warn_if_kl_weight_stays_low(cfg, 1) is None  # a fixed weight: no annealing to finish


def test_alpha_moves_linearly_to_alpha_final():
    """alpha 1 -> 0.2 over updates 100-300: each update's loss carries that update's alpha."""
    criterion, dictionary = make_criterion(alpha=1.0, alpha_final=0.2, alpha_anneal_start=100,
                                           alpha_anneal_updates=200, kl_anneal_updates=0)
    torch.manual_seed(0)
    target = torch.randint(4, len(dictionary), (2, 3))
    logits, aux_logits = torch.randn(2, 3, len(dictionary)), torch.randn(2, 3, len(dictionary))
    mu, logvar = torch.randn(2, 4), torch.randn(2, 4)
    aux = float(torch.nn.functional.cross_entropy(aux_logits.transpose(1, 2), target, reduction="sum"))
    expected = {0: 1.0, 100: 1.0, 150: 0.8, 200: 0.6, 299: 1.0 - 0.8 * 199 / 200, 300: 0.2, 10**6: 0.2}
    losses = {}
    for update, alpha in expected.items():
        model = FixedModel(logits, aux_logits, mu, logvar, num_updates=update)
        losses[update], _, log = criterion(model, {"net_input": {}, "target": target, "ntokens": 6})
        assert log["alpha"] == pytest.approx(2 * alpha), update
    for update, alpha in expected.items():  # the loss differs from update 0's by (alpha - 1)·aux only
        assert float(losses[update] - losses[0]) == pytest.approx((alpha - 1.0) * aux, abs=1e-4), update
    # Without --alpha-final alpha stays put; the ramp itself, against hand-worked values.
    constant, _ = make_criterion(alpha=0.2, alpha_anneal_start=0, alpha_anneal_updates=100)
    assert [constant.alpha_at(u) for u in (0, 50, 500)] == [0.2, 0.2, 0.2]
    assert [linear_ramp(u, 0.0, 2.0, 10, 4) for u in (0, 10, 11, 13, 14, 99)] == [0, 0, 0.5, 1.5, 2, 2]
    assert linear_ramp(5, 1.0, 3.0, 10, 0) == 3.0  # no updates to move over: the end value


class FixedModel(torch.nn.Module):
    """Returns preset logits and posterior: checks the criterion's arithmetic in isolation."""

    def __init__(self, logits, aux_logits, mu, logvar, num_updates):
        super().__init__()
        self.out = (logits, {"mu": mu, "logvar": logvar, "aux_logits": aux_logits, "attn": None})
        self.num_updates = num_updates

    def forward(self, **kwargs):
        return self.out


def make_criterion(**overrides):
    dictionary = Dictionary()
    for c in "abcdef":
        dictionary.add_symbol(c)
    task = SimpleNamespace(target_dictionary=dictionary)
    config = dict(alpha=0.2, kl_weight_floor=0.001, kl_anneal_start=10, kl_anneal_updates=10,
                  free_bits=0.0) | overrides
    return HybridVAEElboCriterion(task, **config), dictionary


def test_loss_is_rec_plus_weighted_kl_plus_alpha_aux():
    torch.manual_seed(0)
    criterion, dictionary = make_criterion()
    V = len(dictionary)
    target = torch.randint(4, V, (3, 5))
    target[2, 3:] = dictionary.pad()
    logits, aux_logits = torch.randn(3, 5, V), torch.randn(3, 5, V)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    model = FixedModel(logits, aux_logits, mu, logvar, num_updates=15)
    sample = {"net_input": {}, "target": target, "ntokens": int(target.ne(1).sum())}
    loss, sample_size, log = criterion(model, sample)

    mask = target.ne(dictionary.pad())
    rec = -(logits.log_softmax(-1).gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask).sum()
    aux = -(aux_logits.log_softmax(-1).gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask).sum()
    kl = gaussian_kl(mu, logvar).sum()
    w = 0.001 + 0.999 * 0.5
    torch.testing.assert_close(loss, rec + w * kl + 0.2 * aux)
    assert sample_size == 13
    assert log["kl_weight"] == pytest.approx(3 * w)

    with metrics.aggregate() as agg:
        HybridVAEElboCriterion.reduce_metrics([log, log])
    values = agg.get_smoothed_values()
    assert values["elbo"] == pytest.approx(float(rec + kl) / 13 / math.log(2), rel=1e-4)
    assert values["kl_nats"] == pytest.approx(float(kl) / 3, rel=1e-3)
    assert values["kl_weight"] == pytest.approx(w, rel=1e-3)  # not doubled by summing two logs
    assert values["aux"] == pytest.approx(float(aux) / 13 / math.log(2), rel=1e-3)


def test_free_bits_only_penalise_kl_above_the_threshold():
    criterion, dictionary = make_criterion(free_bits=1.0, kl_anneal_updates=0, alpha=0.0)
    target = torch.full((2, 3), 5)
    logits = torch.zeros(2, 3, len(dictionary))
    mu = torch.tensor([[0.0, 3.0], [0.0, 3.0]])  # dim 0: KL 0 (below 1 nat), dim 1: KL 4.5 nats
    model = FixedModel(logits, None, mu, torch.zeros(2, 2), num_updates=0)
    loss, _, log = criterion(model, {"net_input": {}, "target": target, "ntokens": 6})
    rec = 6 * math.log(len(dictionary))
    assert float(loss) == pytest.approx(rec + 2 * (1.0 + 4.5), rel=1e-5)
    assert float(log["kl"]) == pytest.approx(9.0)  # the reported KL is the true KL
