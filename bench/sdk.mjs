// The official openai SDK doing one benchmark case against the mock API.
// Usage: node sdk.mjs CASE BASE_URL KEY CHECKPOINT [ARG]
// Prints one JSON line: {"case", "ms", "rows", "cpu_ms", "max_rss_kb"}.
import OpenAI from 'openai';

const [, , kase, baseURL, key, checkpoint, arg] = process.argv;
const client = new OpenAI({ adminAPIKey: key, baseURL, maxRetries: 0 });
const perms = client.fineTuning.checkpoints.permissions;

async function count(iterable) {
  let n = 0;
  for await (const _ of iterable) n++;
  return n;
}

const cases = {
  // every permission, with the SDK's auto-pagination; ARG: page size, or none for the API default
  scan: () => count(perms.list(checkpoint, arg ? { limit: Number(arg) } : {})),
  // one project's permissions
  project: () => count(perms.list(checkpoint, { project_id: arg })),
  // grant ARG=N:BATCH: N projects, BATCH project ids per request
  grant: async () => {
    const [n, batch] = arg.split(':').map(Number);
    let rows = 0;
    for (let i = 0; i < n; i += batch) {
      const ids = [];
      for (let j = i; j < Math.min(n, i + batch); j++) ids.push(`proj_${j + 1}`);
      const page = await perms.create(checkpoint, { project_ids: ids });
      rows += page.data.length;
    }
    return rows;
  },
  // revoke every permission of the checkpoint, one DELETE each, in turn
  revoke: async () => {
    const ids = [];
    for await (const p of perms.list(checkpoint, { limit: 100 })) ids.push(p.id);
    for (const id of ids) await perms.delete(id, { fine_tuned_model_checkpoint: checkpoint });
    return ids.length;
  },
  // revoke ARG=project's permissions: the natural loop, one DELETE after another
  revoke_project: async () => {
    const ids = [];
    for await (const p of perms.list(checkpoint, { project_id: arg, limit: 100 })) ids.push(p.id);
    for (const id of ids) await perms.delete(id, { fine_tuned_model_checkpoint: checkpoint });
    return ids.length;
  },
  // the same, hand-written with a pool of 8 DELETEs in flight
  revoke_project_pool: async () => {
    const ids = [];
    for await (const p of perms.list(checkpoint, { project_id: arg, limit: 100 })) ids.push(p.id);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++];
        await perms.delete(id, { fine_tuned_model_checkpoint: checkpoint });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return ids.length;
  },
  // every permission of the checkpoints ARG=c1,c2,..., one checkpoint after another
  scan_many: async () => {
    let rows = 0;
    for (const c of arg.split(',')) rows += await count(perms.list(c, { limit: 100 }));
    return rows;
  },
  // the same, hand-written with every checkpoint's list at once (Promise.all)
  scan_many_parallel: async () => {
    const counts = await Promise.all(arg.split(',').map((c) => count(perms.list(c, { limit: 100 }))));
    return counts.reduce((a, b) => a + b, 0);
  },
  // the permissions of ARG=p1,p2,... (a join of local rows), one filtered list each
  join: async () => {
    let rows = 0;
    for (const project of arg.split(',')) rows += await count(perms.list(checkpoint, { project_id: project, limit: 100 }));
    return rows;
  },
  // the same, hand-written with a pool of 8 lists in flight
  join_pool: async () => {
    const projects = arg.split(',');
    let next = 0;
    let rows = 0;
    const worker = async () => {
      while (next < projects.length) {
        const project = projects[next++];
        rows += await count(perms.list(checkpoint, { project_id: project, limit: 100 }));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return rows;
  },
};

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const rows = await cases[kase]();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  case: kase, ms: Math.round(ms * 10) / 10, rows,
  cpu_ms: Math.round((cpu.user + cpu.system) / 100) / 10,
  max_rss_kb: process.resourceUsage().maxRSS,
}));
