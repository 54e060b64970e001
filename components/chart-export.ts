/**
 * Exports the chart inside a container as SVG (the recharts surface, serialized with its fonts and a
 * background so it stands alone) or PNG (that SVG drawn onto a canvas at 2x).
 */
function surface(container: HTMLElement): SVGSVGElement {
  const svg = container.querySelector("svg.recharts-surface");
  if (!(svg instanceof SVGSVGElement)) throw new Error("no chart to export");
  return svg;
}

export function chartSvgString(container: HTMLElement): { svg: string; width: number; height: number } {
  const src = surface(container);
  const { width, height } = src.getBoundingClientRect();
  const clone = src.cloneNode(true) as SVGSVGElement;
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  clone.setAttribute("width", String(Math.round(width)));
  clone.setAttribute("height", String(Math.round(height)));
  clone.setAttribute("viewBox", `0 0 ${Math.round(width)} ${Math.round(height)}`);
  clone.setAttribute("style", `font-family: ${getComputedStyle(container).fontFamily}; font-size: 12px; background: #fff`);
  const bg = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", "#fff");
  clone.insertBefore(bg, clone.firstChild);
  return { svg: new XMLSerializer().serializeToString(clone), width, height };
}

function download(href: string, filename: string) {
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function downloadSvg(container: HTMLElement, name: string) {
  const { svg } = chartSvgString(container);
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  download(url, `${name}.svg`);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function downloadPng(container: HTMLElement, name: string) {
  const { svg, width, height } = chartSvgString(container);
  const img = new Image();
  const loaded = new Promise<void>((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error("the chart could not be rendered to PNG"));
  });
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await loaded;
  const scale = 2;
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d")!;
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0, width, height);
  const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, "image/png"));
  if (!blob) throw new Error("the chart could not be rendered to PNG");
  const url = URL.createObjectURL(blob);
  download(url, `${name}.png`);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
