#!/bin/sh
# The image's entry point:
#   worker                    sshd in the foreground (sshd -De), for a launcher's mpirun to reach
#                             this container over ssh (MPI Operator workers, cluster hosts)
#   mpirun ... / mpiexec ...  the launcher
#   sh ... / bash ...         a shell command
#   (nothing)                 under Azure ML (AZUREML_MODEL_DIR set): serves the registered model,
#                             $AZUREML_MODEL_DIR/$RINGTRAIN_MODEL_PATH, on port 8080; elsewhere: help
#   anything else             a ringtrain command: train, serve, predict, evaluate, ...
set -e
if [ $# -eq 0 ]; then
  if [ -n "${AZUREML_MODEL_DIR:-}" ]; then
    exec ringtrain serve "$AZUREML_MODEL_DIR/${RINGTRAIN_MODEL_PATH:-}" --port 8080 --drain-seconds 2
  fi
  exec ringtrain --help
fi
case "$1" in
  worker) shift; exec /usr/sbin/sshd -De -f "$HOME/.sshd_config" "$@" ;;
  mpirun | mpiexec | sh | bash) exec "$@" ;;
  *) exec ringtrain "$@" ;;
esac
