"""Steer held-out tweets through z in both directions of two attributes, and measure how far it goes.

    python examples/tweets/steer.py --tweets DIR --save-dir runs/reproduce-tweets/latent-layernorm/MODEL

Uses a hybrid that `reproduce.py` or `latent.py` trained (--save-dir, or --run / --scale / --lstm-cell)
and its data. The Sentiment140 tweets of each split are labelled by the file they came from
(positive.txt, negative.txt). A direction is the mean posterior of training tweets with an attribute
minus those without: positive minus negative, and with an @mention minus without (an attribute whose
presence needs no classifier). Probes (a logistic regression and a small network on the posterior
means of training tweets, scored on the test split's) say how much of each attribute z holds, and the
linear one gives sentiment a second direction: the step along its weights that moves its logit as far
as the mean difference does. The sentiment judge (logistic regression on character 2-5-grams) is
trained on the labelled tweets of the valid split and scored on those of the test split, and on the
greedy reconstructions of labelled test tweets (how far it can be trusted on the decoder's text).
For each direction and its reverse, 300 test tweets are decoded from z + amount x direction (z the
posterior mean); the table gives, per amount, the share with the attribute, its shift over the plain
reconstruction (amount 0) with its standard error, and how much of each input survives (difflib's
ratio, 1 = identical). Also 3 interpolations and a 2-D map of the test split's posterior means.
Output: results/steer-<model>-<scale>-<cell>.md and -map.png.
"""

import argparse
import difflib
import glob
import math
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from grid import REPO  # noqa: E402

from fairseq_hybrid_vae import TextVAEHubInterface  # noqa: E402
from fairseq_hybrid_vae.common.atomic import atomic_open  # noqa: E402
from fairseq_hybrid_vae.data.text_units import normalize_tweet  # noqa: E402
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL  # noqa: E402

AMOUNTS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0]  # content falls slowly with the amount: try far


def sentiment_labels(tweets: str) -> dict:
    """Normalised Sentiment140 text -> 1 (positive) or 0 (negative); texts found in both are left out."""
    labels, both = {}, set()
    for path in glob.glob(os.path.join(tweets, "**", "*.txt"), recursive=True):
        name = os.path.basename(path)
        if name not in ("positive.txt", "negative.txt"):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = normalize_tweet(line.rstrip("\n"))
                label = int(name == "positive.txt")
                if labels.get(text, label) != label:
                    both.add(text)
                labels[text] = label
    if not labels:
        sys.exit(f"no positive.txt / negative.txt under {tweets}: pass the folder holding Sentiment140")
    return {text: label for text, label in labels.items() if text not in both}


def split_texts(vae: TextVAEHubInterface, split: str) -> tuple:
    """The tweets of a split of the model's data, in order (every line, L units or fewer), and their
    posterior means (N, Z) as a numpy array."""
    codes, tokens = vae.split_codes(split)
    return [vae.to_text(units) for units in tokens], codes.cpu().numpy()


def labelled(texts: list, labels: dict) -> tuple:
    chosen = [text for text in texts if text in labels]
    return chosen, np.array([labels[text] for text in chosen])


def probe(codes_with, codes_without, tests_with, tests_without) -> tuple:
    """Probes of z: a logistic regression and a small network (two layers of 256) on posterior means
    with / without an attribute; the accuracy of each on held-out ones (as many of each kind: chance is
    0.5), their number, and the linear probe's direction: the step along its weights w that moves its
    logit as far as the class means' difference d does, w (w . d) / (w . w)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    n = min(len(tests_with), len(tests_without))
    inputs = np.concatenate([codes_with, codes_without])
    targets = [1] * len(codes_with) + [0] * len(codes_without)
    tests, truth = np.concatenate([tests_with[:n], tests_without[:n]]), np.array([1] * n + [0] * n)
    linear = LogisticRegression(max_iter=3000).fit(inputs, targets)
    network = MLPClassifier((256, 256), max_iter=300, early_stopping=True, random_state=0)
    network.fit(inputs, targets)
    accuracy = lambda model: float((model.predict(tests) == truth).mean())  # noqa: E731
    w = linear.coef_[0]
    difference = codes_with.mean(0) - codes_without.mean(0)
    return accuracy(linear), accuracy(network), 2 * n, w * (w @ difference) / (w @ w)


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


RECONSTRUCTED_TWEETS = 500  # the first test tweets whose reconstructions are scored (latent.py's column)


def reconstruction_kept(vae: TextVAEHubInterface, texts: list, **generation) -> tuple:
    """The mean similarity of texts to their reconstructions (greedy unless `generation` says
    otherwise, e.g. beam=5), and the reconstructions; decoded 100 at a time."""
    outputs = [out for i in range(0, len(texts), 100)
               for out in vae.reconstruct(texts[i:i + 100], **generation)]
    return float(np.mean([similarity(a, b) for a, b in zip(texts, outputs)])), outputs


def has_mention(text: str) -> bool:
    return "@userid" in text  # hybrid-vae-prepare --normalize tweets writes every @mention so


def lacks_mention(text: str) -> bool:
    return not has_mention(text)


def shift_error(p: float, q: float, n: int) -> float:
    """Standard error of the difference of two shares measured on n texts each (binomial)."""
    return math.sqrt((p * (1 - p) + q * (1 - q)) / n)


def steer_rows(vae, inputs: list, direction, has_attribute) -> tuple:
    """Per amount: the share of outputs with the attribute, its shift over the reconstruction, the
    shift's standard error and how much of the input survives; and the outputs themselves."""
    outputs = {amount: vae.steer(inputs, direction, amount) for amount in AMOUNTS}
    share = lambda texts: float(np.mean([has_attribute(t) for t in texts]))  # noqa: E731
    baseline = share(outputs[0.0])
    rows = [("the inputs themselves", share(inputs), None, 1.0)]
    for amount in AMOUNTS:
        kept = float(np.mean([similarity(a, b) for a, b in zip(inputs, outputs[amount])]))
        what = "reconstruction (amount 0)" if amount == 0 else f"steered, amount {amount:g}"
        p = share(outputs[amount])
        rows.append((what, p, None if amount == 0 else (p - baseline, shift_error(p, baseline, len(inputs))),
                     kept))
    return rows, outputs


def table(title: str, attribute: str, rows: list, inputs: list, outputs: dict) -> list:
    lines = [f"### {title}\n", f"| decoded from | {attribute} | shift over the reconstruction (+- 1 s.e.) "
             "| content kept (similarity to the input) |", "|---|---|---|---|"]
    for what, share, shift, kept in rows:
        shown = "" if shift is None else f"{shift[0] * 100:+.1f} +- {shift[1] * 100:.1f} points"
        lines.append(f"| {what} | {share:.1%} | {shown} | {kept:.3f} |")
    lines += ["", "Examples: S the input, then the outputs at amounts 0, 1 and 2:", "", "```"]
    for i in range(5):
        lines.append(f"S  {inputs[i]}")
        lines += [f"{amount:<3g}{outputs[amount][i]}" for amount in (0.0, 1.0, 2.0)]
        lines.append("")
    return lines + ["```", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", required=True, help="the tweet folder reproduce.py was given")
    parser.add_argument("--work", default=os.path.join(REPO, "runs", "reproduce-tweets"))
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--lstm-cell", default=DEFAULT_LSTM_CELL)
    parser.add_argument("--run", default="hybrid-alpha0.2")
    parser.add_argument("--save-dir", help="the model's folder (default: WORK/SCALE-CELL/RUN)")
    parser.add_argument("--per-class", type=int, default=3000,
                        help="training tweets per class for each direction")
    parser.add_argument("--steered", type=int, default=300, help="test tweets to steer per direction")
    parser.add_argument("--probe-per-class", type=int, default=20000,
                        help="training tweets per class for the probes of z")
    args = parser.parse_args()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    name = f"{args.scale}-{args.lstm_cell}"
    save_dir = args.save_dir or os.path.join(args.work, name, args.run)
    vae = TextVAEHubInterface.from_pretrained(save_dir, "checkpoint_last.pt",
                                              data_name_or_path=os.path.join(args.work, "data-bin"))
    labels = sentiment_labels(args.tweets)
    train_all, train_codes = split_texts(vae, "train")
    test_all, test_codes = split_texts(vae, "test")

    def where(texts: list, keep, limit=None) -> list:
        return [i for i, text in enumerate(texts) if keep(text)][:limit]

    is_labelled = lambda label: lambda text: labels.get(text) == label  # noqa: E731
    train_positive, train_negative = (where(train_all, is_labelled(y), args.per_class) for y in (1, 0))
    positive, negative = [train_all[i] for i in train_positive], [train_all[i] for i in train_negative]
    sentiment = vae.attribute_vector(positive, negative)
    mention_kinds = (has_mention, lacks_mention)
    train_mention, train_plain = (where(train_all, has, args.per_class) for has in mention_kinds)
    mentioning = vae.attribute_vector([train_all[i] for i in train_mention],
                                      [train_all[i] for i in train_plain])
    # How much of each attribute z holds, read by a line and by a small network, on held-out test tweets
    probes = args.probe_per_class
    sentiment_probe = probe(*(train_codes[where(train_all, is_labelled(y), probes)] for y in (1, 0)),
                            *(test_codes[where(test_all, is_labelled(y))] for y in (1, 0)))
    mention_probe = probe(*(train_codes[where(train_all, has, probes)] for has in mention_kinds),
                          *(test_codes[where(test_all, has)] for has in mention_kinds))

    valid_texts, valid_labels = labelled(split_texts(vae, "valid")[0], labels)
    test_texts, test_labels = labelled(test_all, labels)
    features = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    classifier = LogisticRegression(max_iter=2000, C=2.0)
    classifier.fit(features.fit_transform(valid_texts), valid_labels)
    judge = lambda texts: classifier.predict(features.transform(texts))  # noqa: E731
    accuracy = float((judge(test_texts) == test_labels).mean())
    judged = test_texts[: 2 * args.steered]  # the judge on the decoder's own text: labelled reconstructions
    accuracy_reconstructed = float((judge(vae.reconstruct(judged)) == test_labels[: len(judged)]).mean())
    originals = test_all[:RECONSTRUCTED_TWEETS]
    kept_by_beam = {beam: reconstruction_kept(vae, originals, beam=beam)[0] for beam in (1, 5)}

    first = lambda texts: texts[: args.steered]  # noqa: E731
    negative_tests = first([t for t, y in zip(test_texts, test_labels) if y == 0])
    positive_tests = first([t for t, y in zip(test_texts, test_labels) if y == 1])
    is_positive = lambda t: judge([t])[0] == 1  # noqa: E731
    along_probe = torch.from_numpy(sentiment_probe[3]).float()
    experiments = [  # title, what is counted, direction, inputs, whether a text has what is counted
        ("Negative tweets steered toward positive", "labelled positive", sentiment, negative_tests,
         is_positive),
        ("Positive tweets steered toward negative", "labelled negative", -sentiment, positive_tests,
         lambda t: not is_positive(t)),
        ("Negative tweets steered toward positive along the probe's direction", "labelled positive",
         along_probe, negative_tests, is_positive),
        ("Positive tweets steered toward negative along the probe's direction", "labelled negative",
         -along_probe, positive_tests, lambda t: not is_positive(t)),
        ("Tweets without an @mention steered toward one", "with an @mention", mentioning,
         first([t for t in test_all if lacks_mention(t)]), has_mention),
        ("Tweets with an @mention steered away from it", "without an @mention", -mentioning,
         first([t for t in test_all if has_mention(t)]), lacks_mention),
    ]
    lines = [
        f"# Steering tweets through z ({os.path.basename(os.path.normpath(save_dir))}, {name})\n",
        f"Sentiment: mean posterior of {len(positive)} positive minus {len(negative)} negative training "
        f"tweets (norm {float(sentiment.norm()):.2f}); @mention: of training tweets with one minus "
        f"without (norm {float(mentioning.norm()):.2f}); latent size {len(sentiment)}. Judge of sentiment: "
        f"{len(valid_texts)} labelled valid tweets; accuracy {accuracy:.3f} on {len(test_texts)} labelled "
        f"test tweets, {accuracy_reconstructed:.3f} on the greedy reconstructions of {len(judged)} of them "
        f"(scored against the inputs' labels). Probes of z (the posterior means of up to {probes} training "
        f"tweets of each kind) read sentiment right in {sentiment_probe[0]:.3f} (a logistic regression) "
        f"and {sentiment_probe[1]:.3f} (a network of two layers of 256) of {sentiment_probe[2]} test tweets, "
        f"the @mention in {mention_probe[0]:.3f} and {mention_probe[1]:.3f} of {mention_probe[2]}, half of "
        f"each kind; the linear probe's sentiment direction has norm {float(along_probe.norm()):.2f}. "
        f"Reconstructions of the first {len(originals)} test tweets keep {kept_by_beam[1]:.3f} of a tweet "
        f"(difflib's ratio) greedy, {kept_by_beam[5]:.3f} with beam 5. "
        f"Steered: the first {args.steered} test tweets of each kind, greedy decoding.\n",
    ]
    for title, attribute, direction, inputs, has_attribute in experiments:
        rows, outputs = steer_rows(vae, inputs, direction, has_attribute)
        lines += table(title, attribute, rows, inputs, outputs)
    lines += ["### Interpolations between a negative and a positive test tweet (posterior means, greedy)\n",
              "```"]
    for start, end in zip(negative_tests[:3], positive_tests[:3]):
        lines += [f"{i}  {text}" for i, text in enumerate(vae.interpolate(start, end, steps=5))] + [""]
    lines += ["```", ""]
    stem = os.path.join(HERE, "results", f"steer-{os.path.basename(os.path.normpath(save_dir))}-{name}")
    sentiment_of = {1: "positive", 0: "negative"}
    labels_file = os.path.join(save_dir, "test-labels.txt")
    with open(labels_file, "w", encoding="utf-8") as f:
        f.writelines(f"{sentiment_of.get(labels.get(text), 'no sentiment label')}\n" for text in test_all)
    latent = os.path.join(REPO, ".venv", "bin", "hybrid-vae-latent")
    subprocess.run([latent, "map", os.path.join(args.work, "data-bin"), "--path",
                    os.path.join(save_dir, "checkpoint_last.pt"), "--split", "test", "--labels", labels_file,
                    "--out", stem + "-map.png"], check=True)
    lines += [f"The test split's posterior means, PCA to 2-D, by label: {os.path.basename(stem)}-map.png", ""]
    text = "\n".join(lines)
    out = stem + ".md"
    with atomic_open(out, encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
