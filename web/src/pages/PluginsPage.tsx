// The plugin console: install a component with its manifest, see its hooks, configure it
// through a form generated from its JSON Schema, enable and disable it, set its order, limits
// and failure policy, try it with a dry run, and read the audit log.

import { useEffect, useMemo, useState } from "preact/hooks";
import { api, csrfHeaders, must } from "../api/client";
import type { components } from "../../generated/schema";
import { errorFrom, messageOf } from "../api/problems";
import { notify } from "../notices";
import { linkClick } from "../router";
import { fieldsOf, validate, type Json, type Schema } from "../schemaForm";
import { formatTime } from "../util";

type Plugin = components["schemas"]["PluginResponse"];
type AuditEntry = components["schemas"]["AuditEntryResponse"];
type DryRun = { decision?: string | null; failure?: string | null; duration_us: number; logs: string[][] };

export function PluginsPage({ location }: { location: string }) {
  const audit = location.startsWith("/admin/plugins/audit");
  return (
    <section class="plugins">
      <header class="page-head">
        <h1>Plugins</h1>
        <nav class="tabs" aria-label="Plugin console">
          <a href="/admin/plugins" aria-current={!audit ? "page" : undefined} onClick={(e) => linkClick(e, "/admin/plugins")}>
            Installed
          </a>
          <a href="/admin/plugins/audit" aria-current={audit ? "page" : undefined} onClick={(e) => linkClick(e, "/admin/plugins/audit")}>
            Audit log
          </a>
        </nav>
      </header>
      {audit ? <AuditLog /> : <Installed />}
    </section>
  );
}

function Installed() {
  const [plugins, setPlugins] = useState<Plugin[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () =>
    api
      .GET("/admin/plugins")
      .then((r) => setPlugins(must(r).plugins))
      .catch((err) => setError(messageOf(err)));
  useEffect(() => {
    void load();
  }, []);
  const replace = (updated: Plugin) => setPlugins((now) => (now ?? []).map((p) => (p.id === updated.id ? updated : p)));
  return (
    <>
      <InstallForm onInstalled={() => void load()} />
      {error && <p class="error" role="alert">{error}</p>}
      {(plugins ?? []).map((plugin) => (
        <PluginCard
          key={plugin.id}
          plugin={plugin}
          onChange={replace}
          onRemoved={() => setPlugins((now) => (now ?? []).filter((p) => p.id !== plugin.id))}
        />
      ))}
      {plugins?.length === 0 && <p class="empty">No plugins are installed.</p>}
    </>
  );
}

function InstallForm({ onInstalled }: { onInstalled: () => void }) {
  const [manifest, setManifest] = useState<File | null>(null);
  const [component, setComponent] = useState<File | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card wide"
      aria-label="Install a plugin"
      onSubmit={async (event) => {
        event.preventDefault();
        if (!manifest || !component) return;
        setBusy(true);
        setError(null);
        try {
          const text = await manifest.text();
          try {
            JSON.parse(text);
          } catch {
            throw new Error("The manifest is not valid JSON: choose the plugin's plugin.json.");
          }
          const form = new FormData();
          form.append("manifest", new Blob([text], { type: "application/json" }));
          form.append("component", component, component.name);
          const response = await fetch("/api/v1/admin/plugins", {
            method: "POST",
            body: form,
            credentials: "same-origin",
            headers: csrfHeaders(),
          });
          if (!response.ok) throw await errorFrom(response);
          const installed = (await response.json()) as Plugin;
          notify(`Installed ${installed.name} ${installed.version}; it is disabled until you enable it.`);
          (event.target as HTMLFormElement).reset();
          setManifest(null);
          setComponent(null);
          onInstalled();
        } catch (err) {
          setError(messageOf(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Install a plugin</h2>
      <label>
        Manifest (plugin.json)
        <input type="file" accept=".json,application/json" required onChange={(e) => setManifest(e.currentTarget.files?.[0] ?? null)} />
      </label>
      <label>
        Component (.wasm)
        <input type="file" accept=".wasm,application/wasm" required onChange={(e) => setComponent(e.currentTarget.files?.[0] ?? null)} />
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary" disabled={busy || !manifest || !component}>
        {busy ? "Installing (compiling can take a while)…" : "Install"}
      </button>
    </form>
  );
}

function PluginCard({ plugin, onChange, onRemoved }: { plugin: Plugin; onChange: (p: Plugin) => void; onRemoved: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = async (work: () => Promise<Plugin | void>) => {
    setBusy(true);
    setError(null);
    try {
      const updated = await work();
      if (updated) onChange(updated);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const id = plugin.id;
  return (
    <article class="card wide plugin" aria-label={`Plugin ${plugin.name}`}>
      <header class="page-head">
        <h2>
          {plugin.name} <small>{plugin.version}</small>
        </h2>
        <span class={`status ${plugin.enabled ? "on" : "off"}`}>{plugin.enabled ? "Enabled" : "Disabled"}</span>
      </header>
      <p>{plugin.description}</p>
      <p>
        <small>
          Hooks: {plugin.hooks.join(", ")} · interface {plugin.interface_version} · installed {formatTime(plugin.installed_at)}
        </small>
      </p>
      {plugin.disabled_reason && <p class="error">Disabled automatically: {plugin.disabled_reason}</p>}
      <div class="toolbar">
        {plugin.enabled ? (
          <button type="button" disabled={busy} onClick={() => act(async () => must(await api.POST("/admin/plugins/{id}/disable", { params: { path: { id } } })))}>
            Disable
          </button>
        ) : (
          <button
            type="button"
            class="primary"
            disabled={busy}
            onClick={() => act(async () => must(await api.POST("/admin/plugins/{id}/enable", { params: { path: { id } } })))}
          >
            Enable
          </button>
        )}
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={() =>
            act(async () => {
              if (!window.confirm(`Remove ${plugin.name}? Its configuration is lost.`)) return;
              await api.DELETE("/admin/plugins/{id}", { params: { path: { id } } });
              onRemoved();
            })
          }
        >
          Remove
        </button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <details>
        <summary>Order, limits and failure policy</summary>
        <SettingsForm plugin={plugin} onSaved={onChange} />
      </details>
      <details>
        <summary>Configuration</summary>
        <ConfigForm plugin={plugin} onSaved={onChange} />
      </details>
      <details>
        <summary>Dry run</summary>
        <DryRunForm plugin={plugin} />
      </details>
    </article>
  );
}

function SettingsForm({ plugin, onSaved }: { plugin: Plugin; onSaved: (p: Plugin) => void }) {
  const [position, setPosition] = useState(String(plugin.position));
  const [timeMs, setTimeMs] = useState(String(plugin.time_ms));
  const [memoryMib, setMemoryMib] = useState(String(plugin.memory_bytes / 1048576));
  const [outputKib, setOutputKib] = useState(String(plugin.output_bytes / 1024));
  const [policy, setPolicy] = useState(plugin.failure_policy);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="grid-form"
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        try {
          onSaved(
            must(
              await api.PATCH("/admin/plugins/{id}", {
                params: { path: { id: plugin.id } },
                body: {
                  position: Number(position),
                  time_ms: Number(timeMs),
                  memory_bytes: Math.round(Number(memoryMib) * 1048576),
                  output_bytes: Math.round(Number(outputKib) * 1024),
                  failure_policy: policy,
                },
              }),
            ),
          );
          notify(`Saved the settings of ${plugin.name}.`);
        } catch (err) {
          setError(messageOf(err));
        }
      }}
    >
      <label>
        Order <small>(lower runs first)</small>
        <input type="number" min={0} required value={position} onInput={(e) => setPosition(e.currentTarget.value)} />
      </label>
      <label>
        Time per call (ms)
        <input type="number" min={1} required value={timeMs} onInput={(e) => setTimeMs(e.currentTarget.value)} />
      </label>
      <label>
        Memory per call (MiB, 1 to 256)
        <input type="number" min={1} max={256} required value={memoryMib} onInput={(e) => setMemoryMib(e.currentTarget.value)} />
      </label>
      <label>
        Output per call (KiB)
        <input type="number" min={1} required value={outputKib} onInput={(e) => setOutputKib(e.currentTarget.value)} />
      </label>
      <label>
        When a call fails
        <select value={policy} onChange={(e) => setPolicy(e.currentTarget.value)}>
          <option value="deny">Refuse the request (deny)</option>
          <option value="allow">Let it through (allow)</option>
        </select>
      </label>
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="primary">Save settings</button>
    </form>
  );
}

function ConfigForm({ plugin, onSaved }: { plugin: Plugin; onSaved: (p: Plugin) => void }) {
  const schema = (plugin.config_schema ?? null) as Schema | null;
  const [value, setValue] = useState<Record<string, Json>>((plugin.config ?? {}) as Record<string, Json>);
  const [raw, setRaw] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<string[]>([]);
  const fields = useMemo(() => (schema ? fieldsOf(schema) : []), [plugin.config_schema]);
  if (!schema) {
    return <p class="hint">This plugin has no configuration schema; its configuration is {JSON.stringify(plugin.config)}.</p>;
  }
  const set = (name: string, next: Json | undefined) => {
    const copy = { ...value };
    if (next === undefined) delete copy[name];
    else copy[name] = next;
    setValue(copy);
  };
  return (
    <form
      class="grid-form"
      onSubmit={async (event) => {
        event.preventDefault();
        const problems = validate(schema, value);
        for (const [name, text] of Object.entries(raw)) {
          try {
            JSON.parse(text);
          } catch {
            problems.push(`${name} is not valid JSON`);
          }
        }
        setErrors(problems);
        if (problems.length) return;
        try {
          onSaved(must(await api.PUT("/admin/plugins/{id}/config", { params: { path: { id: plugin.id } }, body: value as never })));
          notify(`Saved the configuration of ${plugin.name}.`);
        } catch (err) {
          setErrors([messageOf(err)]);
        }
      }}
    >
      {fields.map((field) => {
        const label = field.schema.title ?? field.name;
        const help = field.schema.description ? <small> {field.schema.description}</small> : null;
        const current = value[field.name];
        switch (field.kind) {
          case "boolean":
            return (
              <label key={field.name} class="check">
                <input type="checkbox" checked={current === true} onChange={(e) => set(field.name, e.currentTarget.checked)} /> {label}
                {help}
              </label>
            );
          case "number":
            return (
              <label key={field.name}>
                {label}
                {help}
                <input
                  type="number"
                  step={field.integer ? 1 : "any"}
                  min={field.schema.minimum}
                  max={field.schema.maximum}
                  value={typeof current === "number" ? current : ""}
                  onInput={(e) => set(field.name, e.currentTarget.value === "" ? undefined : Number(e.currentTarget.value))}
                />
              </label>
            );
          case "choice":
            return (
              <label key={field.name}>
                {label}
                {help}
                <select value={JSON.stringify(current ?? null)} onChange={(e) => set(field.name, JSON.parse(e.currentTarget.value))}>
                  {field.options.map((o) => (
                    <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
                      {String(o)}
                    </option>
                  ))}
                </select>
              </label>
            );
          case "choices":
            return (
              <fieldset key={field.name}>
                <legend>
                  {label}
                  {help}
                </legend>
                {field.options.map((o) => {
                  const chosen = Array.isArray(current) ? current : [];
                  return (
                    <label key={String(o)} class="check">
                      <input
                        type="checkbox"
                        checked={chosen.includes(o)}
                        onChange={(e) =>
                          set(field.name, e.currentTarget.checked ? [...chosen, o] : chosen.filter((c) => c !== o))
                        }
                      />{" "}
                      {String(o)}
                    </label>
                  );
                })}
              </fieldset>
            );
          case "text":
            return (
              <label key={field.name}>
                {label}
                {help}
                <input
                  value={typeof current === "string" ? current : ""}
                  minLength={field.schema.minLength}
                  maxLength={field.schema.maxLength}
                  onInput={(e) => set(field.name, e.currentTarget.value === "" ? undefined : e.currentTarget.value)}
                />
              </label>
            );
          default:
            return (
              <label key={field.name}>
                {label} <small>(JSON)</small>
                {help}
                <textarea
                  value={raw[field.name] ?? (current === undefined ? "" : JSON.stringify(current))}
                  onInput={(e) => {
                    const text = e.currentTarget.value;
                    try {
                      set(field.name, text === "" ? undefined : JSON.parse(text));
                      const { [field.name]: _, ...rest } = raw;
                      setRaw(rest);
                    } catch {
                      setRaw({ ...raw, [field.name]: text });
                    }
                  }}
                />
              </label>
            );
        }
      })}
      {errors.length > 0 && (
        <ul class="error" role="alert">
          {errors.map((e) => (
            <li key={e}>{e[0]!.toUpperCase() + e.slice(1)}.</li>
          ))}
        </ul>
      )}
      <button type="submit" class="primary">Save configuration</button>
    </form>
  );
}

/** A sample input for each hook, as the dry run takes it. */
function sampleFor(hook: string): Record<string, Json> {
  switch (hook) {
    case "upload-scanner":
      return { kind: "scan", path: "/sample.txt", content_base64: btoa("hello") };
    case "sharing-policy":
      return { kind: "link", path: "/Reports", is_folder: true, has_password: false, allow_download: true, expires_in_seconds: null };
    case "quota-policy":
      return { kind: "quota", server_quota: 10737418240 };
    default:
      return { kind: "scan", path: "/sample.txt", content_base64: btoa("hello") };
  }
}

function DryRunForm({ plugin }: { plugin: Plugin }) {
  const [input, setInput] = useState(JSON.stringify(sampleFor(plugin.hooks[0] ?? ""), null, 2));
  const [result, setResult] = useState<DryRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="grid-form"
      onSubmit={async (event) => {
        event.preventDefault();
        setError(null);
        setResult(null);
        let body: unknown;
        try {
          body = JSON.parse(input);
        } catch {
          setError("The sample is not valid JSON.");
          return;
        }
        try {
          setResult(must(await api.POST("/admin/plugins/{id}/dry-run", { params: { path: { id: plugin.id } }, body: body as never })));
        } catch (err) {
          setError(messageOf(err));
        }
      }}
    >
      <label>
        Sample input <small>(kinds: scan, check-upload, link, share, quota)</small>
        <textarea rows={7} value={input} onInput={(e) => setInput(e.currentTarget.value)} />
      </label>
      <label>
        Or scan a file
        <input
          type="file"
          onChange={async (e) => {
            const file = e.currentTarget.files?.[0];
            if (!file) return;
            const bytes = new Uint8Array(await file.arrayBuffer());
            let binary = "";
            for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
            setInput(JSON.stringify({ kind: "scan", path: `/${file.name}`, content_base64: btoa(binary) }, null, 2));
          }}
        />
      </label>
      <button type="submit" class="primary">Run</button>
      {error && <p class="error" role="alert">{error}</p>}
      {result && (
        <div class="dry-run" role="status">
          <p>
            <strong>{result.decision ? `Decision: ${result.decision}` : `Failed: ${result.failure ?? "no answer"}`}</strong> ·{" "}
            {(result.duration_us / 1000).toFixed(1)} ms
          </p>
          {result.logs.length > 0 && (
            <pre class="preview-text">{result.logs.map(([level, message]) => `${level ?? ""}: ${message ?? ""}`).join("\n")}</pre>
          )}
        </div>
      )}
    </form>
  );
}

function AuditLog() {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [before, setBefore] = useState<number | null>(null);
  const [plugin, setPlugin] = useState("");
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const [since, setSince] = useState("");
  const [error, setError] = useState<string | null>(null);
  const load = async (older?: number) => {
    try {
      const page = must(
        await api.GET("/admin/plugins/audit", {
          params: { query: { plugin: plugin.trim() || undefined, before: older, limit: 200 } },
        }),
      );
      setEntries((now) => (older ? [...now, ...page.entries] : page.entries));
      setBefore(page.next_before ?? null);
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  };
  useEffect(() => {
    void load();
  }, [plugin]);
  const actions = [...new Set(entries.map((e) => e.action))].sort();
  const shown = entries.filter(
    (e) =>
      (!actor || (e.actor ?? "").toLowerCase().includes(actor.toLowerCase())) &&
      (!action || e.action === action) &&
      (!since || e.at >= new Date(since).toISOString()),
  );
  return (
    <>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          Plugin
          <input value={plugin} onChange={(e) => setPlugin(e.currentTarget.value)} placeholder="all" />
        </label>
        <label>
          User
          <input value={actor} onInput={(e) => setActor(e.currentTarget.value)} placeholder="any" />
        </label>
        <label>
          Decision or action
          <select value={action} onChange={(e) => setAction(e.currentTarget.value)}>
            <option value="">any</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label>
          Since
          <input type="date" value={since} onInput={(e) => setSince(e.currentTarget.value)} />
        </label>
      </form>
      {error && <p class="error" role="alert">{error}</p>}
      <table class="table">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Plugin</th>
            <th scope="col">Action</th>
            <th scope="col">Hook</th>
            <th scope="col">User</th>
            <th scope="col">Subject</th>
            <th scope="col">Reason</th>
            <th scope="col">Time</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.id}>
              <td>{formatTime(e.at)}</td>
              <td>{e.plugin}</td>
              <td>{e.action}</td>
              <td>{e.hook ?? ""}</td>
              <td>{e.actor ?? ""}</td>
              <td>{e.subject ?? ""}</td>
              <td>{e.reason ?? ""}</td>
              <td>{e.duration_us != null ? `${(e.duration_us / 1000).toFixed(1)} ms` : ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p class="empty">No entries{entries.length ? " match the filters" : ""}.</p>}
      {before !== null && <button type="button" onClick={() => void load(before)}>Load older</button>}
    </>
  );
}
