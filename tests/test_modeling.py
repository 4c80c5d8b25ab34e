"""Model building: frozen lower layers."""

import torch

import train
from hatespeech.modeling import ModelArguments


def test_freeze_layers_stops_gradients_below_the_cut(tiny_model_dir):
    from hatespeech.modeling import get_model

    model = get_model(ModelArguments(model_name_or_path=str(tiny_model_dir), freeze_layers=1))
    assert not any(p.requires_grad for p in model.bert.embeddings.parameters())
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    head_only = get_model(ModelArguments(model_name_or_path=str(tiny_model_dir), freeze_layers=-1))
    assert {n for n, p in head_only.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}


def test_training_with_frozen_layers_leaves_them_unchanged(train_args, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    assert train.main([*train_args, "--freeze_layers", "1", "--max_steps", "2"]) == 0
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    key = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(before[key], after[f"bert.{key}"])
    top = "encoder.layer.1.attention.self.query.weight"
    assert not torch.equal(before[top], after[f"bert.{top}"])
