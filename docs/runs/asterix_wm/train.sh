# A long Asterix world-model run on person-like and random play (bf16), resumable.
set -e
cd "$(dirname "$0")/../../.."; [ -f .venv/bin/activate ] && . .venv/bin/activate
D=runs/asterix_long/data
R=runs/asterix_long/wm
if [ ! -f $D/.complete ]; then
  rm -rf $D
  jedi-train collect --game Asterix --steps 60000 --out $D --seed 0 --policy person
  jedi-train collect --game Asterix --steps 40000 --out $D --seed 1 --policy random
  touch $D/.complete
fi
X="--experimental latent_norm=true --experimental predict_delta=true --experimental mean_predictor_channels=96 --experimental denoiser_channels=96 --experimental decoder_grad_weight=100 --experimental reward_reads_mean=true --experimental reward_reads_standardized=true --experimental decoder_motion_weight=100"
RES=""; [ -f $R/checkpoint.safetensors ] && RES="--resume"
jedi-train world-model --game Asterix --data $D --out $R --minutes ${MINUTES:-75} --val-every 1000 --checkpoint-minutes 5 --threads 2 --seed 0 --lr 3e-4 $X $RES
