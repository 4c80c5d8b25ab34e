"""Transductive prior matching for trained models on TweetEval hate (issue: model quality).

    python experiments/prior_matching.py --data_dir ../shared/tweeteval/hate outputs/experiments/RUN ...

Not a headline number: it reads the unlabelled test texts. The threshold is moved so that the
predicted-hate rate on the test texts equals the training split's hate rate, which measures how
much of the test gap is a shifted decision threshold rather than a wrong ranking.
"""

import json

import numpy as np
from common import models_and_splits, score

from hatespeech.inference.classifier import Classifier


def main():
    models, splits = models_and_splits(__doc__)
    prior = float(np.mean(splits["train"]["label"]))
    for model in models:
        print(json.dumps({"model": model, **score(Classifier(model, backend="fp32"), splits, prior)}), flush=True)


if __name__ == "__main__":
    main()
