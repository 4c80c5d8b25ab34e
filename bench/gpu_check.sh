#!/usr/bin/env bash
# The CUDA path in one short run on a GPU machine, from the repository root:
#   bash bench/gpu_check.sh [DATA_DIR]
# Uses the machine's python3 and its CUDA build of torch. On a machine without network, put the
# wheels of the other requirements in .whl/ first; they are installed from there into /tmp/site.
# Trains 2048 tweets in fp32/bf16/fp16, trains one epoch, then measures inference throughput;
# prints the tables and leaves JSON in bench/results/. Not yet run on a GPU.
set -euo pipefail
DATA_DIR=${1:-../shared/tweeteval/hate}
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0))"
python3 bench/train.py --device cuda --data_dir "$DATA_DIR" --samples 2048
python3 train.py --data_dir "$DATA_DIR" --num_train_epochs 1 --output_dir outputs/gpu-model --report_to none
python3 bench/inference.py --device cuda --model outputs/gpu-model --data_dir "$DATA_DIR" --batch_sizes 64,256
