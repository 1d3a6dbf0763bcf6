"""JupyterHub for one room on one machine; ``classroom.py start`` runs it (see README.md beside this file).

- Log-in: a username the learner picks plus the workshop password (JupyterHub's shared-password authenticator);
  the instructor logs in as an admin with a separate, longer password. Usernames are short lower-case words and may
  not be the name of a system account the room did not create (no one logs in as ``root``).
- Each learner is an unprivileged Linux account made at the first log-in, in the group ``course-learners``, with a
  private home under ``ROOM/learners/NAME`` (mode 700). Their JupyterLab runs as that account
  (LocalProcessSpawner), in ``~/my-work``, which the course's workspace rules fill: a notebook the learner has is
  never overwritten; a changed course notebook arrives beside it.
- Limits per learner, on the learner's whole process tree (JupyterLab, kernels, anything they start): memory, CPU
  share and number of processes, by a control group (cgroup v2, else v1) per learner; an idle server is stopped.

Settings come from the environment that classroom.py sets (COURSE_ROOM, COURSE_HUB_*).
"""
from __future__ import annotations

import grp
import os
import pwd
import subprocess
import sys
from pathlib import Path

from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid

c = get_config()  # noqa: F821 (JupyterHub provides it)

COURSE = Path(__file__).resolve().parents[2]
ROOM = Path(os.environ["COURSE_ROOM"])
LEARNERS = ROOM / "learners"
GROUP = "course-learners"
USERNAME = r"[a-z][a-z0-9]{1,15}"  # a valid Linux user name too
ADMIN = os.environ.get("COURSE_HUB_ADMIN", "instructor")
MEMORY_MB = int(os.environ.get("COURSE_HUB_MEMORY_MB", "4096"))
CPUS = float(os.environ.get("COURSE_HUB_CPUS", "1"))
PROCESSES = int(os.environ.get("COURSE_HUB_PROCESSES", "256"))
CGROUP = Path("/sys/fs/cgroup")
CGROUP_PARENT = "course-room"


class WorkshopAuthenticator(SharedPasswordAuthenticator):
    """The shared workshop password, and only names that are, or will become, accounts of this room."""

    def validate_username(self, username: str) -> bool:
        if not super().validate_username(username):
            return False
        try:
            account = pwd.getpwnam(username)
        except KeyError:
            return True  # made at the first spawn
        return account.pw_gid == grp.getgrnam(GROUP).gr_gid  # an existing account of this room, nobody else's


def cgroup_folders(name: str) -> list[tuple[Path, dict[str, str]]]:
    """The control group folders of learner ``name`` and the limit files to write in each."""
    memory, cpu = str(MEMORY_MB * 2**20), f"{int(CPUS * 100_000)} 100000"
    if (CGROUP / "cgroup.controllers").exists():  # cgroup v2: one folder
        return [(CGROUP / CGROUP_PARENT / name, {"memory.max": memory, "pids.max": str(PROCESSES), "cpu.max": cpu})]
    quota, period = cpu.split()
    return [(CGROUP / "memory" / CGROUP_PARENT / name, {"memory.limit_in_bytes": memory}),
            (CGROUP / "pids" / CGROUP_PARENT / name, {"pids.max": str(PROCESSES)}),
            (CGROUP / "cpu" / CGROUP_PARENT / name, {"cpu.cfs_period_us": period, "cpu.cfs_quota_us": quota})]


def make_cgroup(name: str) -> list[Path]:
    """Create learner ``name``'s control groups with the room's limits; returns the folders (empty: no cgroups)."""
    if (CGROUP / "cgroup.controllers").exists():
        (CGROUP / CGROUP_PARENT).mkdir(exist_ok=True)
        for folder in (CGROUP, CGROUP / CGROUP_PARENT):
            (folder / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    made = []
    for folder, limits in cgroup_folders(name):
        folder.mkdir(parents=True, exist_ok=True)
        for file, value in limits.items():
            (folder / file).write_text(value)
        made.append(folder)
    return made


def quiet_lab(account: pwd.struct_passwd) -> None:
    """No news or update checks in the learner's JupyterLab (the room may have no internet): their own settings
    file, written once; they may change it."""
    settings = Path(account.pw_dir, ".jupyter", "lab", "user-settings", "@jupyterlab", "apputils-extension")
    target = settings / "notification.jupyterlab-settings"
    if target.exists():
        return
    settings.mkdir(parents=True, exist_ok=True)
    target.write_text('{"fetchNews": "false", "checkForUpdates": false}\n')
    for path in [target, *target.parents]:
        if path == Path(account.pw_dir):
            break
        os.chown(path, account.pw_uid, account.pw_gid)


class LearnerSpawner(LocalProcessSpawner):
    """JupyterLab as the learner's own unprivileged account, in a control group with the room's limits."""

    def ensure_account(self) -> pwd.struct_passwd:
        name = self.user.name
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        LEARNERS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["useradd", "--gid", GROUP, "--home-dir", str(LEARNERS / name), "--create-home",
                        "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True)
        account = pwd.getpwnam(name)
        os.chmod(account.pw_dir, 0o700)  # learners cannot read each other's work
        return account

    async def start(self):
        account = self.ensure_account()
        # the course's workspace rules, run as the learner: copies what is missing, never overwrites a notebook
        subprocess.run([sys.executable, "-m", "course_tools.workspace", "--course", str(COURSE / "notebooks"),
                        "--workspace", str(Path(account.pw_dir) / "my-work")], cwd=account.pw_dir, check=True,
                       preexec_fn=set_user_setuid(account.pw_name), capture_output=True,
                       env={"PATH": os.environ["PATH"], "HOME": account.pw_dir})
        quiet_lab(account)
        self.cgroups = make_cgroup(account.pw_name) if os.geteuid() == 0 and CGROUP.is_dir() else []
        return await super().start()

    def make_preexec_fn(self, name):
        become_learner = set_user_setuid(name)
        folders = list(getattr(self, "cgroups", []))

        def preexec():  # in the child, before exec: join the learner's control groups, then drop root
            for folder in folders:
                (folder / "cgroup.procs").write_text(str(os.getpid()))
            become_learner()
        return preexec


c.JupyterHub.authenticator_class = WorkshopAuthenticator
c.WorkshopAuthenticator.user_password = os.environ["COURSE_HUB_PASSWORD"]
c.WorkshopAuthenticator.admin_password = os.environ["COURSE_HUB_ADMIN_PASSWORD"]
c.WorkshopAuthenticator.admin_users = {ADMIN}
c.WorkshopAuthenticator.username_pattern = USERNAME
c.WorkshopAuthenticator.allow_all = True  # whoever has the workshop password (and a valid name) may come in

c.JupyterHub.spawner_class = LearnerSpawner
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]  # the course's own environment
c.Spawner.notebook_dir = "~/my-work"
c.Spawner.default_url = "/lab"
c.Spawner.mem_limit = f"{MEMORY_MB}M"  # shown to JupyterLab; the control group enforces it
c.Spawner.cpu_limit = CPUS
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 120
c.Spawner.args = ["--ServerApp.shutdown_no_activity_timeout=3600",  # an abandoned server ends after an hour
                  "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                  # window.jupyterapp, which the browser test drives; the page gets nothing its user could not do
                  "--LabApp.expose_app_in_browser=True"]

PORT = int(os.environ.get("COURSE_HUB_PORT", "8000"))
c.JupyterHub.bind_url = f"http://{os.environ.get('COURSE_HUB_IP', '127.0.0.1')}:{PORT}"
c.JupyterHub.hub_ip = "127.0.0.1"  # the hub's own API and the proxy's: the next two ports, on loopback only
c.JupyterHub.hub_port = PORT + 1
c.JupyterHub.proxy_class = "configurable-http-proxy"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [str(Path(__file__).parent / "node_modules" / ".bin" / "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{ROOM / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOM / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(ROOM / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops the learners' servers too
c.JupyterHub.allow_named_servers = False
c.JupyterHub.active_server_limit = int(os.environ.get("COURSE_HUB_MAX_LEARNERS", "40"))
