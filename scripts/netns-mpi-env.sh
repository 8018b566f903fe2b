# Sourced: Open MPI settings (as OMPI_MCA_* variables, which mpirun and its ranks read) for jobs
# across the pretend hosts of scripts/netns-hosts.sh, so that a job's own mpirun command line runs
# there unchanged: launched by scripts/netns-agent.sh instead of ssh, TCP between hosts in their
# subnet, and ranks that yield their core while they wait (the hosts share this machine's cores).
# (A lost host is noticed within seconds by the keepalive settings that scripts/install-deps.sh
# puts in Open MPI's system parameter file, as on any machine set up with it.)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export OMPI_MCA_plm_rsh_agent="$here/netns-agent.sh"
export OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=10.77.0.0/24
export OMPI_MCA_oob_tcp_if_include=10.77.0.0/24
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_hwloc_base_binding_policy=none
export OMPI_MCA_rmaps_base_oversubscribe=1
if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
