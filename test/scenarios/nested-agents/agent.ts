import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The inner agent of the incident: what contractor-ci's CI job runs on
 * build-host. Every connection it makes passes the gateway again, with the hop
 * token the gateway offered its session ($HOPSCOPE_TOKEN), so each is a linked hop.
 */

/** SQL the job runs against prod-db in one psql session, in order. */
export const STEPS_SQL = [
  'SELECT id, name, email, ssn, card, tier FROM customers ORDER BY id;',
  'DROP TABLE customers;',
  'DELETE FROM customers;',
  'DELETE FROM build_cache;',
  "UPDATE customers SET tier = 'free';",
  'SELECT count(*) AS customers_left FROM customers;',
];

/** What the approver decides for each held statement; a statement not named here is left to time out. */
export const DECISIONS: Array<{ match: string; decision: 'approve' | 'deny'; reason: string }> = [
  { match: 'DELETE FROM customers', decision: 'deny', reason: 'INC-4711: no bulk deletes on customers' },
  { match: 'DELETE FROM build_cache', decision: 'approve', reason: 'cache purge is routine' },
];

/** Lines typed into an interactive shell on deploy-host (one hop further): a query, then a blocked install. */
export function deployShellLines(pgPort: number): string[] {
  return [
    'unset HISTFILE',
    'hostname; echo "deploy-host hop: $HOPSCOPE_SESSION"',
    `PGPASSWORD="$HOPSCOPE_TOKEN" PGAPPNAME=deploy-check psql -X -A -t -P pager=off -h 127.0.0.1 -p ${pgPort} -U contractor-ci -d prod-db -c "SELECT id, email, ssn FROM customers WHERE id <= 2"`,
    'curl -fsSL http://127.0.0.1:9/install.sh | sh',
    'echo "deploy-host: done"',
    'exit',
  ];
}

/** A local file on build-host with customer data in it: its SSNs and card numbers are masked in the SSH output. */
const EXPORT_CSV = 'id,name,ssn,card\n1,Ada Byron,123-45-6789,4111 1111 1111 1111\n2,Grace Hopper,234-56-7890,5500 0000 0000 0004\n';

export interface AgentPorts {
  pg: number;
  ssh: number;
}

/** Writes the job's files into `work`; returns the command to exec on build-host. */
export async function writeAgent(work: string, ports: AgentPorts): Promise<string> {
  await writeFile(join(work, 'steps.sql'), `${STEPS_SQL.join('\n')}\n`);
  await writeFile(join(work, 'customers-export.csv'), EXPORT_CSV);
  await writeFile(join(work, 'deploy-session.txt'), `${deployShellLines(ports.pg).join('\n')}\n`);
  // The nested ssh answers the gateway's password prompt with the hop token of the session it runs in.
  await writeFile(join(work, 'hop-askpass.sh'), '#!/bin/sh\nprintf "%s\\n" "$HOPSCOPE_TOKEN"\n', { mode: 0o755 });
  const ssh = [
    'ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR',
    '-o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive -o NumberOfPasswordPrompts=1',
    `-p ${ports.ssh}`,
  ].join(' ');
  const script = `#!/bin/sh
# contractor-ci's job on build-host: reaches prod-db and deploy-host through the gateway with $HOPSCOPE_TOKEN.
W=${work}
export PGHOST=127.0.0.1 PGPORT=${ports.pg} PGUSER=contractor-ci PGDATABASE=prod-db PGPASSWORD="$HOPSCOPE_TOKEN"
export SSH_ASKPASS=$W/hop-askpass.sh SSH_ASKPASS_REQUIRE=force DISPLAY=:0
unset SSH_AUTH_SOCK
echo "== build-host: session $HOPSCOPE_SESSION"
echo "== local export"
cat $W/customers-export.csv
echo "== prod-db: maintenance"
PGAPPNAME=ci-maintenance psql -X -P pager=off -f $W/steps.sql
echo "== deploy-host: interactive hop"
TERM=xterm ${ssh} -tt contractor-ci:deploy-host@127.0.0.1 < $W/deploy-session.txt
echo "== long-running work"
${ssh} contractor-ci:deploy-host@127.0.0.1 'i=0; while [ $i -lt 60 ] && echo "watcher on deploy-host: tick $i"; do i=$((i+1)); sleep 1; done' &
PGAPPNAME=nightly-report psql -X -P pager=off -c "SELECT 'nightly-report' AS job, pg_sleep(60)"
wait
echo "== agent finished"
`;
  await writeFile(join(work, 'agent.sh'), script, { mode: 0o755 });
  return `sh ${join(work, 'agent.sh')}`;
}
