/**
 * The commented starter config written by `vger config`. It must pass validation as written (tested). Its
 * first line points editors that use yaml-language-server at the published JSON Schema.
 */
import { SCHEMA_URL } from './json-schema.js'

export const STARTER_CONFIG = `# yaml-language-server: $schema=${SCHEMA_URL}
# vger configuration. Reference: docs/config.md. Check it with: vger -c THIS_FILE list
# Environment variables are expanded everywhere, comments included (see docs/config.md).

repositories:
  - url: ~/.local/share/vger/repo     # a local path or file:///path (s3://, sftp://, https:// are parsed, not served yet)
    label: local                      # how -R and messages name it
    # compression: {algorithm: zstd}  # per-repository overrides replace the top-level section
    # retention: {keep_daily: 30}

sources:
  - path: ~/Documents
    label: documents
    exclude: ["*.tmp", "node_modules/"]
  # - paths: [/etc, /var/lib/app]
  #   label: system
  #   hooks:
  #     before: "systemctl stop app"
  #     finally: "systemctl start app"
  #   command_dumps:
  #     - name: app.sql
  #       command: "pg_dump app"

exclude_patterns:                     # gitignore-style, relative to each source root
  - ".cache/"
  - "*.swp"

encryption:
  mode: auto                          # auto | aes256gcm | chacha20poly1305 | none
  # passcommand: "pass show vger"     # or export VGER_PASSPHRASE, or be prompted

compression:
  algorithm: lz4                      # lz4 | zstd | none
  # zstd_level: 3                     # 1..22, for zstd

retention:                            # used by prune
  keep_daily: 7
  keep_weekly: 4
  keep_monthly: 6
  # keep_within: 2d
  # group_by: [host, label]           # how snapshots are grouped before the rules apply

# chunker: {min_size: 512KiB, avg_size: 1MiB, max_size: 8MiB}   # used by vger init only
# limits: {threads: 0, nice: 10, upload_mib_per_sec: 0}
# schedule: {enabled: true, every: 24h, jitter_seconds: 600}   # for vger daemon (docs/daemon.md)
# hooks:
#   failed: "notify-send 'vger: backup failed'"
# hostname: laptop
# env_file: vger.env
`
