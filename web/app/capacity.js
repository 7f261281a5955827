// Site capacity: every ward of a site with its counts and the site's totals, live (each ward's
// bedBoard subscription moves its counts as beds change).

import { useEffect, useState } from "preact/hooks";
import { graphql, subscribe } from "./api.js";
import { CapacityBar, capacityOf, useSites } from "./beds.js";
import { Field, html, messageOf, route } from "./ui.js";

const FIELDS = "id status medicallyOptimised";

export function SiteCapacity({ siteId, navigate }) {
  const [sites, sitesError] = useSites();
  const site = sites?.find((s) => s.id === siteId);
  useEffect(() => {
    const [screen, now] = route();
    if (sites?.length && screen === "capacity" && !sites.some((s) => s.id === now)) navigate(`#/capacity/${sites[0].id}`, true);
  }, [sites, siteId]);
  if (sitesError) return html`<p class="error" role="alert">${messageOf(sitesError)}</p>`;
  if (!sites) return html`<p class="loading">Loading sites…</p>`;
  return html`<section aria-labelledby="capacity-title">
    <div class="toolbar">
      <h1 id="capacity-title">Site capacity${site ? html`: <span>${site.name}</span>` : ""}</h1>
      <div class="pickers"><${Field} label="Site">${(props) => html`<select ...${props} value=${siteId}
        onChange=${(e) => navigate(`#/capacity/${e.currentTarget.value}`)}>
        ${sites.map((s) => html`<option value=${s.id}>${s.name}</option>`)}</select>`}<//></div>
    </div>
    ${site && html`<${Wards} key=${site.id} site=${site} />`}
    ${site && html`<${VirtualBeds} key=${`v${site.id}`} site=${site} />`}
  </section>`;
}

/** The site's virtual wards' beds, apart from its real ones, live from each ward's census. */
function VirtualBeds({ site }) {
  const [wards, setWards] = useState(null);
  useEffect(() => {
    let live = true;
    let stops = [];
    graphql("{ virtualWards { id siteId name beds occupied free } }")
      .then((data) => {
        if (!live) return;
        const mine = data.virtualWards.filter((w) => w.siteId === site.id);
        setWards(new Map(mine.map((w) => [w.id, w])));
        // Each census says its beds taken as patients come and go (where the caller may see it).
        stops = mine.map((w) => subscribe(`subscription ($w: ID!) { virtualWardCensus(wardId: $w) { ward { id name beds occupied free } } }`,
          { w: w.id }, (d) => live && setWards((now) => new Map(now).set(w.id, { ...d.virtualWardCensus.ward, siteId: site.id }))));
      })
      .catch(() => live && setWards(new Map()));
    return () => {
      live = false;
      stops.forEach((stop) => stop());
    };
  }, [site.id]);
  if (!wards?.size) return null;
  const all = [...wards.values()];
  const sum = (key) => all.reduce((n, w) => n + w[key], 0);
  return html`<h2>${site.name}: virtual wards (hospital at home)</h2>
    <p class="vw-beds" data-testid="virtual-beds">${sum("occupied")} of ${sum("beds")} virtual beds taken · ${sum("free")} free, counted apart from the beds above</p>
    <table class="wards">
      <caption class="sr-only">Virtual beds of ${site.name}</caption>
      <thead><tr><th scope="col">Virtual ward</th><th scope="col">Virtual beds</th><th scope="col">Occupied</th><th scope="col">Free</th></tr></thead>
      <tbody>${all.map((w) => html`<tr data-virtual-ward=${w.id}><th scope="row"><a href=${`#/virtual/${w.id}`}>${w.name}</a></th>
        <td>${w.beds}</td><td>${w.occupied}</td><td class="available">${w.free}</td></tr>`)}</tbody>
    </table>`;
}

function Wards({ site }) {
  // ward id → Map(bed id → bed)
  const [beds, setBeds] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    let loaded = false;
    // Pushes since the last read was asked for (ward id → bed id → bed): as new as its answer.
    let pushed = new Map();
    let reads = 0;
    let pending = null;
    const merge = (wardId, bed) => {
      pushed.set(wardId, new Map(pushed.get(wardId) || []).set(bed.id, bed));
      setError(null);
      if (!loaded) return;
      setBeds((current) => {
        const next = new Map(current || []);
        next.set(wardId, new Map(next.get(wardId) || []).set(bed.id, bed));
        return next;
      });
    };
    const load = () => {
      // Every ward's subscription going live asks: one read answers them all.
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        const read = ++reads;
        pushed = new Map();
        graphql(`query ($s: ID!) { wards(siteId: $s) { id beds { ${FIELDS} } } }`, { s: site.id })
          .then((data) => {
            if (!live || read !== reads) return;
            const next = new Map(data.wards.map((w) => [w.id, new Map(w.beds.map((b) => [b.id, b]))]));
            for (const [wardId, ward] of pushed) for (const [id, bed] of ward) next.get(wardId)?.set(id, bed);
            loaded = true;
            setError(null);
            setBeds(next);
          })
          .catch((e) => live && read === reads && setError(e));
      }, 0);
    };
    const stops = site.wards.map((w) => subscribe(`subscription ($w: ID!) { bedBoard(wardId: $w) { ${FIELDS} } }`, { w: w.id },
      (data) => live && merge(w.id, data.bedBoard), (e) => live && setError(e), load));
    load();
    return () => {
      live = false;
      clearTimeout(pending);
      stops.forEach((stop) => stop());
    };
  }, [site.id]);
  if (error && !beds) return html`<p class="error" role="alert">${messageOf(error)}</p>`;
  if (!beds) return html`<p class="loading">Loading capacity…</p>`;
  const all = [...beds.values()].flatMap((ward) => [...ward.values()]);
  return html`
    ${error && html`<p class="error" role="alert">${messageOf(error)}</p>`}
    <h2>${site.name}: all wards</h2>
    <${CapacityBar} capacity=${capacityOf(all)} label=${`${site.name} capacity`} />
    <table class="wards">
      <caption class="sr-only">Capacity of each ward of ${site.name}</caption>
      <thead><tr><th scope="col">Ward</th><th scope="col">Beds</th><th scope="col">Occupied</th><th scope="col">Available</th>
        <th scope="col">Awaiting cleaning</th><th scope="col">Blocked</th><th scope="col">Reserved</th><th scope="col">Medically optimised in a bed</th></tr></thead>
      <tbody>${site.wards.map((w) => {
        const c = capacityOf([...(beds.get(w.id)?.values() || [])]);
        return html`<tr data-ward=${w.id}><th scope="row"><a href=${`#/beds/${site.id}/${w.id}`}>${w.name}</a></th>
          <td>${c.total}</td><td>${c.occupied}</td><td class="available">${c.available}</td><td>${c.awaitingCleaning}</td>
          <td>${c.blocked}</td><td>${c.reserved}</td><td>${c.medicallyOptimisedInBed}</td></tr>`;
      })}</tbody>
    </table>`;
}
