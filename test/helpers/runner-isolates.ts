import { setTimeout as sleep } from 'node:timers/promises'

/**
 * Live tenant isolates on a gateway's runners, summed from its /metrics on `adminPort`; asked
 * again (up to 20 times, 100 ms apart) while a runner is slow to answer the scrape.
 */
export async function liveIsolates(adminPort: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()
    const up = [...text.matchAll(/^isogate_runner_up\{runner="\d+"\} (\d)/gm)]
    if ((up.length > 0 && up.every((line) => line[1] === '1')) || attempt >= 20) {
      return [...text.matchAll(/^isogate_runner_isolates\{runner="\d+"\} (\d+)/gm)].reduce((sum, line) => sum + Number(line[1]), 0)
    }
    await sleep(100)
  }
}
