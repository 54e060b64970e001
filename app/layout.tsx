import type { Metadata } from "next";
import type { ReactNode } from "react";
import Link from "next/link";
import { AuthStatus } from "@/components/auth-status";
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
          {/* No prefetch: on page load these fetched four routes' payloads from the server while the
              explorer's chart request needed both cores (scripts/bench-dashboard.ts). */}
          <Link href="/" className="brand" prefetch={false}>
            Frontier
          </Link>
          <nav>
            <Link href="/" prefetch={false}>
              Explorer
            </Link>
            <Link href="/runs" prefetch={false}>
              Runs
            </Link>
            <Link href="/experiments" prefetch={false}>
              Experiments
            </Link>
            <Link href="/experiments/new" prefetch={false}>
              New experiment
            </Link>
            <Link href="/workers" prefetch={false}>
              Workers
            </Link>
            <Link href="/api-docs" prefetch={false}>
              API
            </Link>
          </nav>
          <AuthStatus />
        </header>
        <Providers>
          <main>{children}</main>
        </Providers>
      </body>
    </html>
  );
}
