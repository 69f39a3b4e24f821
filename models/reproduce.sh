#!/usr/bin/env bash
# Rebuild the default model (codebooks/ and models/) from ../shared with streamer's own
# commands: demo corpus -> features -> pretrain (codebooks and branches on unimodal data)
# -> features bow -> train (from the pretrained branches) -> evaluate -> held-out checks.
#
#   models/reproduce.sh [SHARED_DIR] [WORK_DIR]
#
# SHARED_DIR defaults to ../shared beside the repository, WORK_DIR (corpus, features,
# reports; 1.3 GB) to build/default-model.  About 40 minutes on 2 cores, peak memory
# 9.1 GB (in evaluate).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="$(cd "${1:-$REPO/../shared}" && pwd)"
WORK="${2:-$REPO/build/default-model}"
JOBS="${JOBS:-2}"
CORPUS="$WORK/corpus"
# Settings of the default model, given to every command that reads them.
export STREAMER_FACE_MODEL="${STREAMER_FACE_MODEL:-$SHARED/models/face_landmarker.task}"
SETTINGS=(--config "$REPO/models/config.yaml")

mkdir -p "$WORK"
echo "== demo corpus" >&2
if [ ! -f "$CORPUS/manifest.json" ]; then
  streamer data demo-corpus --shared "$SHARED" --out "$CORPUS" \
    --recordings-per-partition 48,8,8 --processes "$JOBS"
fi

echo "== audio LLDs and face features" >&2
mkdir -p "$CORPUS/lld" "$CORPUS/face"
export SETTINGS_FILE="$REPO/models/config.yaml" CORPUS
ls "$CORPUS"/media/*.mp4 | xargs -P "$JOBS" -I{} bash -c '
  n=$(basename "{}" .mp4)
  [ -f "$CORPUS/lld/$n.csv" ] || streamer features audio "{}" --out "$CORPUS/lld/$n.csv" --config "$SETTINGS_FILE"
  [ -f "$CORPUS/face/$n.csv" ] || streamer features video "{}" --out "$CORPUS/face/$n.csv" --config "$SETTINGS_FILE"
'

echo "== codebooks and branches pretrained on the training people of each unimodal corpus" >&2
PRE="$WORK/pretrain"
CB="$PRE/codebooks"
streamer pretrain "${SETTINGS[@]}" --shared "$SHARED" --out "$PRE" --processes "$JOBS"

echo "== bags of words" >&2
rm -rf "$CORPUS"/*_features_xbow_6s
streamer features bow "${SETTINGS[@]}" "$CORPUS"/lld/*.csv --codebook "$CB/audio.npz" --out "$CORPUS/audio_features_xbow_6s"
streamer features bow "${SETTINGS[@]}" "$CORPUS"/face/*.csv --codebook "$CB/pose.npz" \
  --codebook "$CB/eyes.npz" --codebook "$CB/landmarks.npz" --out "$CORPUS/video_features_xbow_6s"
streamer features bow "${SETTINGS[@]}" "$CORPUS"/words/*.csv --codebook "$CB/vocabulary.txt" --out "$CORPUS/text_features_xbow_6s"

echo "== fusion networks (arousal, valence; the corpus has no liking)" >&2
streamer train "${SETTINGS[@]}" --data "$CORPUS" --out "$WORK/models" --dimensions arousal,valence \
  --set training.branches="$PRE/branches"
cp "$REPO/models/config.yaml" "$WORK/models/"  # the feature settings travel with the models

echo "== evaluation on the Test partition" >&2
streamer evaluate "${SETTINGS[@]}" --data "$CORPUS" --out "$WORK/report" --dimensions arousal,valence \
  --set training.branches="$PRE/branches"

echo "== each branch on the held-out Test (and Devel) people of every corpus" >&2
for part in test devel; do
  python -m streamer.training.heldout --models "$WORK/models" --codebooks "$CB" --shared "$SHARED" \
    --partition "$part" --cache "$PRE/frames" --out "$WORK/report/heldout-$part.md"
done

echo "== copying into the repository" >&2
cp "$CB"/audio.npz "$CB"/pose.npz "$CB"/eyes.npz "$CB"/landmarks.npz "$CB"/vocabulary.txt "$REPO/codebooks/"
cp "$WORK"/models/arousal.pt "$WORK"/models/arousal.json "$WORK"/models/valence.pt "$WORK"/models/valence.json "$REPO/models/"
echo "done: codebooks/ and models/ rebuilt; report in $WORK/report" >&2
