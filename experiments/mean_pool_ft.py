"""Fine-tuning with a mean-pooling head, the pooling the encoder was trained with (issue: model quality).

    python experiments/mean_pool_ft.py --data_dir ../shared/tweeteval/hate --seed 42 \
        --output_dir outputs/experiments/meanpool-seed42

Everything as the default `train.py` run (configs/train.yaml, any of its flags), except the head:
dropout + Linear on the attention-masked mean of the last hidden states, instead of
BertForSequenceClassification's tanh pooler on [CLS]. An experiment only: `pipeline()` cannot load
this head without remote code. Prints validation and test macro-F1.
"""

import torch
from transformers import AutoModel, set_seed
from transformers.modeling_outputs import SequenceClassifierOutput

from hatespeech import ID2LABEL
from hatespeech.data.loading import load_splits
from hatespeech.modeling import get_tokenizer, resolve_model_path
from hatespeech.training.steps import make_trainer, parse_train_args, tokenize


class MeanPoolClassifier(torch.nn.Module):
    """Encoder, masked mean of its last hidden states, dropout, Linear."""

    def __init__(self, path: str):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
        self.dropout = torch.nn.Dropout(self.encoder.config.hidden_dropout_prob)
        self.classifier = torch.nn.Linear(self.encoder.config.hidden_size, len(ID2LABEL))

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        mask = attention_mask.unsqueeze(-1).to(hidden.last_hidden_state.dtype)
        pooled = (hidden.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1)
        logits = self.classifier(self.dropout(pooled))
        loss = torch.nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def main(argv=None):
    data_args, model_args, _, training_args = parse_train_args(argv, __doc__)
    set_seed(training_args.seed)
    tokenizer = get_tokenizer(model_args)
    tokenized = tokenize(load_splits(data_args), tokenizer, data_args.max_seq_length)
    trainer = make_trainer(
        training_args,
        model_args,
        tokenized,
        tokenizer,
        build_model=lambda args: MeanPoolClassifier(resolve_model_path(args.model_name_or_path)),
    )
    trainer.train()
    for split in ("validation", "test"):
        metrics = trainer.predict(tokenized[split]).metrics
        f1, rate = metrics["test_macro_f1"], metrics["test_pred_hate_rate"]
        print(f"{split} macro-F1 {f1:.4f}  predicted hate rate {rate:.3f}")


if __name__ == "__main__":
    main()
