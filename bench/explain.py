"""Faithfulness and cost of the word-occlusion explanations, the way ERASER (DeYoung et al. 2020) and
HateXplain measure rationales, against random words in the same run.

    python bench/explain.py --model outputs/model --data_dir ../shared/tweeteval/hate --n 500

For each of the first --n TweetEval validation tweets, with j the predicted class and k = ceil(20% of
its words) (at least one):
- comprehensiveness = p_j(tweet) - p_j(tweet without its top-k words): large when the words the
  explanation ranks first are the ones the prediction rests on;
- sufficiency = p_j(tweet) - p_j(top-k words alone): small when those words suffice.
The random baseline deletes (or keeps) k words drawn with a fixed seed. Words are ranked by their
support for class j (the weight for hate, its negation for not-hate). Cost: the median time of one
explanation against one classification of the same tweet (the service's limit is 20x).
Prints a markdown table and writes bench/results/explain-<time>.json.
"""

import argparse
import math
import random
import statistics
import time

from common import describe, machine, markdown_table, save

from hatespeech import HATE
from hatespeech.data.loading import load_tweeteval_dir
from hatespeech.inference.classifier import Classifier
from hatespeech.serving.explain import explain, without, word_units


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model", help="Local model folder or Hub id.")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate", help="TweetEval layout folder.")
    parser.add_argument("--n", type=int, default=500, help="Validation tweets to explain.")
    parser.add_argument("--share", type=float, default=0.2, help="Share of words deleted or kept.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the random-word baseline.")
    args = parser.parse_args()

    classifier = Classifier(args.model)
    texts = [t for t in load_tweeteval_dir(args.data_dir, splits=("validation",))["validation"]["text"]
             if len(word_units(t)) >= 2][: args.n]  # fmt: skip

    def hate(batch: list[str]) -> list[float]:
        return classifier.predict_proba(batch)[:, HATE].tolist()

    rng = random.Random(args.seed)
    rows = {"top": {"comprehensiveness": [], "sufficiency": []}, "random": {"comprehensiveness": [], "sufficiency": []}}
    explain_s, classify_s = [], []
    for text in texts:
        started = time.perf_counter()
        weights = explain(text, hate)
        explain_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        p_hate = hate([text])[0]
        classify_s.append(time.perf_counter() - started)
        sign = 1 if p_hate >= 0.5 else -1  # support for the predicted class j
        units = word_units(text)
        k = max(1, math.ceil(args.share * len(units)))
        support = [sign * weight.weight for weight in weights]
        top = sorted(range(len(units)), key=lambda i: -support[i])[:k]
        chosen = {"top": top, "random": rng.sample(range(len(units)), k)}
        for kind, picked in chosen.items():
            kept = [unit for i, unit in enumerate(units) if i not in picked]
            deleted, alone = without(text, [units[i] for i in picked]), without(text, kept)
            p_deleted, p_alone = hate([deleted, alone])
            # p_j(a) - p_j(b) for the predicted class j is sign * (hate(a) - hate(b)).
            rows[kind]["comprehensiveness"].append(sign * (p_hate - p_deleted))
            rows[kind]["sufficiency"].append(sign * (p_hate - p_alone))

    table = [[kind, f"{statistics.mean(v['comprehensiveness']):.4f}", f"{statistics.mean(v['sufficiency']):.4f}"]
             for kind, v in rows.items()]  # fmt: skip
    ratio = statistics.mean(rows["top"]["comprehensiveness"]) / statistics.mean(rows["random"]["comprehensiveness"])
    cost = statistics.median(explain_s) / statistics.median(classify_s)
    info = machine()
    print(f"Machine: {describe(info)}; model {args.model}; {len(texts)} TweetEval validation tweets, "
          f"top {args.share:.0%} of words (ceil, at least 1)")  # fmt: skip
    print(markdown_table(["words", "comprehensiveness (higher: faithful)", "sufficiency (lower: faithful)"], table))
    print(f"\nComprehensiveness, top words / random words: {ratio:.2f}x (goal >= 2x)")
    print(f"Cost: median explanation {statistics.median(explain_s) * 1000:.1f} ms against one classification "
          f"{statistics.median(classify_s) * 1000:.1f} ms = {cost:.1f}x (limit 20x)")  # fmt: skip
    path = save("explain", {"model": args.model, "n": len(texts), "share": args.share, "seed": args.seed,
                            "rows": {kind: {m: statistics.mean(v) for m, v in r.items()} for kind, r in rows.items()},
                            "comprehensiveness_ratio": ratio, "cost_ratio": cost})  # fmt: skip
    print(f"Saved {path}")


if __name__ == "__main__":
    main()
