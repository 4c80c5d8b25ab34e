"""How much ordinary text the de-obfuscating normaliser changes: the share of each validation split it changes,
which rules fire, and a seeded sample of the changes (docs/training/normalisation.md shows this output).

    python scripts/deobfuscation_changes.py [--data_dir ../shared/tweeteval/hate] [--sources_dir ../shared/hate_sources]
"""

import argparse
import difflib
import random
from pathlib import Path

from hatespeech.data.loading import DataArguments, load_split
from hatespeech.data.sources import READERS, TEST_SUITES, load_source
from hatespeech.text import _DEOBFUSCATION, deobfuscate, normalize_tweet

RULE_NAMES = ["invisible", "spaced letters", *[f"digit {d}" for d in "431057"], "!", "$", "letter runs"]


def changed_words(before: str, after: str) -> str:
    a, b = before.split(), after.split()
    edits = difflib.SequenceMatcher(a=a, b=b).get_opcodes()
    return "; ".join(f"{' '.join(a[i1:i2])} -> {' '.join(b[j1:j2])}" for op, i1, i2, j1, j2 in edits if op != "equal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--sources_dir", default="../shared/hate_sources")
    parser.add_argument("--sample", type=int, default=3, help="Changes shown per source.")
    args = parser.parse_args()
    splits = {"tweeteval": load_split(DataArguments(data_dir=args.data_dir), "validation")["text"]}
    for name in (name for name in READERS if name not in TEST_SUITES):
        splits[name] = [row.text for row in load_source(Path(args.sources_dir), name, 0)["validation"]]
    print("| validation split | texts | changed | share | rules that fired (texts) |\n|---|---|---|---|---|")
    samples = {}
    for name, texts in splits.items():
        prepared = [normalize_tweet(text) for text in texts]
        changes = [(text, deobfuscate(text)) for text in prepared if deobfuscate(text) != text]
        fired = {rule: sum(bool(pattern.search(text)) for text in prepared)
                 for rule, (pattern, _) in zip(RULE_NAMES, _DEOBFUSCATION, strict=True)}  # fmt: skip
        shown = ", ".join(f"{rule} {n}" for rule, n in fired.items() if n)
        print(f"| {name} | {len(texts)} | {len(changes)} | {len(changes) / len(texts):.3f} | {shown or '-'} |")
        samples[name] = random.Random(0).sample(changes, min(args.sample, len(changes)))
    print("\nA seeded sample of the changes (words before -> after):\n")
    for name, changes in samples.items():
        for before, after in changes:
            print(f"- {name}: `{changed_words(before, after)[:150]}`")


if __name__ == "__main__":
    main()
