"""Steer held-out negative tweets toward positive through z, and measure how far it goes.

    python examples/tweets/steer.py --tweets TWEETS_DIR --work runs/reproduce-tweets

Uses the hybrid that `reproduce.py` trained (--run, --scale, --lstm-cell pick it) and its data. The
Sentiment140 tweets of each split are labelled by the file they came from (positive.txt,
negative.txt). The direction is the mean posterior of positive minus negative tweets of the VAE's
training split. A sentiment classifier (logistic regression on character 2-5-grams) is trained on
the labelled tweets of the valid split and scored on those of the test split: both disjoint from the
VAE's training tweets. Negative test tweets are then decoded from z + amount x direction; the table
gives, per amount, the share the classifier labels positive and how much of each input survives
(difflib's similarity ratio of input and output, 1 = identical), beside the inputs themselves and
their plain reconstructions (amount 0). Output: results/steer-<scale>-<cell>.md.
"""

import argparse
import difflib
import glob
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from grid import REPO  # noqa: E402

from fairseq_hybrid_vae import TextVAEHubInterface  # noqa: E402
from fairseq_hybrid_vae.atomic import atomic_open  # noqa: E402
from fairseq_hybrid_vae.modules import DEFAULT_LSTM_CELL  # noqa: E402
from fairseq_hybrid_vae.prepare import normalize_tweet  # noqa: E402

AMOUNTS = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0]


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


def split_texts(vae: TextVAEHubInterface, split: str) -> list:
    """The tweets of a split of the model's data, in order (every line, L units or fewer)."""
    return [vae.to_text(tokens) for tokens in vae.split_codes(split)[1]]


def labelled(texts: list, labels: dict) -> tuple:
    chosen = [text for text in texts if text in labels]
    return chosen, np.array([labels[text] for text in chosen])


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", required=True, help="the tweet folder reproduce.py was given")
    parser.add_argument("--work", default=os.path.join(REPO, "runs", "reproduce-tweets"))
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--lstm-cell", default=DEFAULT_LSTM_CELL)
    parser.add_argument("--run", default="hybrid-alpha0.2")
    parser.add_argument("--per-class", type=int, default=3000,
                        help="training tweets per class for the direction")
    parser.add_argument("--steered", type=int, default=300, help="negative test tweets to steer")
    args = parser.parse_args()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    name = f"{args.scale}-{args.lstm_cell}"
    save_dir = os.path.join(args.work, name, args.run)
    vae = TextVAEHubInterface.from_pretrained(save_dir, "checkpoint_last.pt",
                                              data_name_or_path=os.path.join(args.work, "data-bin"))
    labels = sentiment_labels(args.tweets)
    train_texts, train_labels = labelled(split_texts(vae, "train"), labels)
    positive = [t for t, y in zip(train_texts, train_labels) if y == 1][: args.per_class]
    negative = [t for t, y in zip(train_texts, train_labels) if y == 0][: args.per_class]
    direction = vae.attribute_vector(positive, negative)

    valid_texts, valid_labels = labelled(split_texts(vae, "valid"), labels)
    test_texts, test_labels = labelled(split_texts(vae, "test"), labels)
    features = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    classifier = LogisticRegression(max_iter=2000, C=2.0)
    classifier.fit(features.fit_transform(valid_texts), valid_labels)
    accuracy = float((classifier.predict(features.transform(test_texts)) == test_labels).mean())
    share_positive = lambda texts: float(classifier.predict(features.transform(texts)).mean())  # noqa: E731

    inputs = [t for t, y in zip(test_texts, test_labels) if y == 0][: args.steered]
    outputs = {amount: vae.steer(inputs, direction, amount) for amount in AMOUNTS}
    rows = [("the inputs themselves", share_positive(inputs), 1.0)]
    for amount in AMOUNTS:
        kept = float(np.mean([similarity(a, b) for a, b in zip(inputs, outputs[amount])]))
        what = "reconstruction (amount 0)" if amount == 0 else f"steered, amount {amount:g}"
        rows.append((what, share_positive(outputs[amount]), kept))

    lines = [
        f"# Steering negative tweets toward positive ({args.run}, {name})\n",
        f"Direction: mean posterior of {len(positive)} positive minus {len(negative)} negative training "
        f"tweets (norm {float(direction.norm()):.2f}, latent size {len(direction)}). Classifier: "
        f"{len(valid_texts)} labelled valid tweets, accuracy {accuracy:.3f} on {len(test_texts)} labelled "
        f"test tweets. Steered: the first {len(inputs)} negative test tweets, greedy decoding.\n",
        "| decoded from | labelled positive | content kept (similarity to the input) |",
        "|---|---|---|",
    ] + [f"| {what} | {share:.1%} | {kept:.3f} |" for what, share, kept in rows]
    lines += ["", "Examples: S the input, then the outputs at amounts 0, 1 and 2:", "", "```"]
    for i in range(5):
        lines.append(f"S  {inputs[i]}")
        lines += [f"{amount:<3g}{outputs[amount][i]}" for amount in (0.0, 1.0, 2.0)]
        lines.append("")
    lines.append("```")
    text = "\n".join(lines) + "\n"
    with atomic_open(os.path.join(HERE, "results", f"steer-{name}.md"), encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
