import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from transformers import DataCollatorWithPadding

import train
from hatespeech.data.loading import load_splits
from hatespeech.modeling import get_tokenizer
from hatespeech.training.linear_probe import pooled_features
from hatespeech.training.steps import make_trainer, parse_train_args, tokenize


def test_head_starts_as_the_logistic_regression_on_frozen_features(train_args):
    data_args, model_args, _, training_args = parse_train_args([*train_args, "--linear_probe", "--linear_probe_c", "3"])
    tokenizer = get_tokenizer(model_args)
    tokenized = tokenize(load_splits(data_args), tokenizer, data_args.max_seq_length)
    model = make_trainer(training_args, model_args, tokenized, tokenizer).model.eval()  # model_init ran the probe

    features = pooled_features(model, tokenized["train"], tokenizer)
    labels = np.asarray(tokenized["train"]["label"])
    probe = LogisticRegression(C=3, max_iter=2000, random_state=training_args.seed).fit(features, labels)
    batch = DataCollatorWithPadding(tokenizer)(
        tokenized["train"].select_columns(["input_ids", "attention_mask", "token_type_ids"]).to_list()
    )
    with torch.inference_mode():
        p_hate = model(**batch).logits.float().softmax(-1)[:, 1].numpy()
    assert np.allclose(p_hate, probe.predict_proba(features)[:, 1], atol=0.03)


def test_lp_ft_run_trains_and_saves(train_args, tmp_path):
    assert train.main([*train_args, "--linear_probe", "--max_steps", "2"]) == 0
    assert (tmp_path / "out" / "model.safetensors").is_file()
