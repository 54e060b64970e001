import type { Metadata } from "next";
import type { ReactNode } from "react";
import Link from "next/link";
import { Providers } from "@/components/providers";
import "./globals.css";

export const metadata: Metadata = {
  title: "Frontier",
  description: "Experiment tracker and benchmark dashboard for model compression",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <Link href="/" className="brand">Frontier</Link>
          <nav>
            <Link href="/">Explorer</Link>
            <Link href="/runs">Runs</Link>
            <Link href="/experiments">Experiments</Link>
            <Link href="/experiments/new">New experiment</Link>
            <a href="/api/v1/openapi.json">API</a>
          </nav>
        </header>
        <Providers>
          <main>{children}</main>
        </Providers>
      </body>
    </html>
  );
}
