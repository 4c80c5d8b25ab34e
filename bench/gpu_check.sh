#!/usr/bin/env bash
# The CUDA path in one short run on a GPU machine, from the repository root:
#   bash bench/gpu_check.sh DATA_DIR [MODEL]
# Uses the machine's python3 and its CUDA build of torch (with the other requirements importable).
# Training throughput of 2048 tweets in fp32 / bf16 / fp16 (bench/train.py), then inference
# throughput on the TweetEval test split (bench/inference.py) with MODEL, a trained model folder;
# without MODEL, one epoch of train.py makes one first. Prints the tables, leaves JSON in bench/results/.
set -euo pipefail
DATA_DIR=${1:-../shared/tweeteval/hate}
MODEL=${2:-}
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
python3 bench/train.py --device cuda --data_dir "$DATA_DIR" --samples 2048
if [ -z "$MODEL" ]; then
    MODEL=outputs/gpu-model
    python3 train.py --data_dir "$DATA_DIR" --num_train_epochs 1 --output_dir "$MODEL" --report_to none
fi
python3 bench/inference.py --device cuda --model "$MODEL" --data_dir "$DATA_DIR" --batch_sizes 64,256
